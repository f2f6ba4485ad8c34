"""The TAN-SIP projection of TESS FFIs, evaluated with numpy.

Placing a cutout needs one world-to-pixel transform of an FFI's WCS; astropy's
WCS does it, but importing `astropy.wcs` (which brings astropy.coordinates
and astropy.table) costs half a second, more than a whole cold cutout from
S3. This is the same transform (FITS WCS papers I and II for the gnomonic
projection, Shupe et al. 2005 for SIP), for the one projection TESS FFIs use.
tests/test_sip.py checks it against astropy's to far below a pixel.
"""

import copy
import re

import numpy as np

from ..exceptions import InvalidFileError

__all__ = ["TanSip"]

_TERM = re.compile(r"^(A|B|AP|BP)_(\d+)_(\d+)$")


class TanSip:
    """A celestial TAN or TAN-SIP WCS from its header keywords.

    Parameters
    ----------
    cards : dict
        Keyword to value: CTYPEi, CRVALi, CRPIXi, CDi_j (or PCi_j with
        CDELTi), optionally LONPOLE and the SIP terms.
    name : str
        What to call the WCS's file in errors.
    """

    def __init__(self, cards, *, name="the FFI"):
        ctypes = (str(cards.get("CTYPE1", "")), str(cards.get("CTYPE2", "")))
        if ctypes[0][:8] != "RA---TAN" or ctypes[1][:8] != "DEC--TAN":
            raise InvalidFileError(
                f"cube: the WCS of {name} is {ctypes[0]!r}/{ctypes[1]!r}, not the TAN or "
                "TAN-SIP projection of TESS FFIs"
            )
        units = {str(cards.get(f"CUNIT{i}", "deg")).strip() or "deg" for i in (1, 2)}
        if units != {"deg"}:
            raise InvalidFileError(f"cube: the WCS of {name} is in {units}, not degrees")
        try:
            self.crpix = np.array([float(cards["CRPIX1"]), float(cards["CRPIX2"])])
            crval = np.radians([float(cards["CRVAL1"]), float(cards["CRVAL2"])])
            if "CD1_1" in cards:
                matrix = [[cards.get(f"CD{i}_{j}", 0.0) for j in (1, 2)] for i in (1, 2)]
            else:
                matrix = [
                    [
                        cards.get(f"PC{i}_{j}", float(i == j)) * cards.get(f"CDELT{i}", 1.0)
                        for j in (1, 2)
                    ]
                    for i in (1, 2)
                ]
            self.matrix = np.array(matrix, dtype=float)  # pixel offsets to degrees
            self._inverse = np.linalg.inv(self.matrix)
        except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
            raise InvalidFileError(f"cube: the WCS of {name} is incomplete ({exc})") from exc
        self._ra0, self._dec0 = crval
        # The native longitude of the celestial pole: 180 deg unless said (zenithal default).
        self._lonpole = np.radians(float(cards.get("LONPOLE", 180.0)))
        self.sip = {"A": {}, "B": {}, "AP": {}, "BP": {}}
        if ctypes[0].endswith("-SIP"):
            for keyword, value in cards.items():
                if match := _TERM.match(keyword):
                    self.sip[match.group(1)][int(match.group(2)), int(match.group(3))] = float(
                        value
                    )

    def moved(self, column, row):
        """This WCS for an image whose first pixel is this one's pixel (column, row)."""
        moved = copy.copy(self)
        moved.crpix = self.crpix - (column, row)
        return moved

    def pixel_to_world(self, x, y):
        """RA and Dec (degrees) of 0-based pixel positions."""
        u = np.asarray(x, float) + 1 - self.crpix[0]
        v = np.asarray(y, float) + 1 - self.crpix[1]
        u, v = u + _polynomial(self.sip["A"], u, v), v + _polynomial(self.sip["B"], u, v)
        xi, eta = np.radians(self.matrix @ np.array([np.ravel(u), np.ravel(v)]))
        # Native spherical coordinates of the gnomonic projection, then to the sky.
        phi = np.arctan2(xi, -eta)
        theta = np.arctan2(1.0, np.hypot(xi, eta))
        ra, dec = self._rotate_to_sky(phi, theta)
        shape = np.shape(u)
        return np.degrees(ra).reshape(shape) % 360.0, np.degrees(dec).reshape(shape)

    def world_to_pixel(self, ra, dec):
        """0-based pixel positions of RA and Dec (degrees); NaN on the far hemisphere."""
        shape = np.broadcast(np.asarray(ra), np.asarray(dec)).shape
        ra, dec = np.radians(np.ravel(ra).astype(float)), np.radians(np.ravel(dec).astype(float))
        phi, theta = self._rotate_to_native(ra, dec)
        with np.errstate(divide="ignore", invalid="ignore"):
            radius = np.where(theta > 0, np.cos(theta) / np.sin(theta), np.nan)
        xi, eta = radius * np.sin(phi), -radius * np.cos(phi)
        target_u, target_v = self._inverse @ np.degrees([xi, eta])
        u, v = self._undistort(target_u, target_v)
        return (u - 1 + self.crpix[0]).reshape(shape), (v - 1 + self.crpix[1]).reshape(shape)

    def pixel_scales(self):
        """Degrees per pixel along each pixel axis, at the reference pixel (as astropy's
        ``proj_plane_pixel_scales``)."""
        return np.sqrt((self.matrix**2).sum(axis=0))

    def _rotate_to_sky(self, phi, theta):
        dphi = phi - self._lonpole
        sin_dec0, cos_dec0 = np.sin(self._dec0), np.cos(self._dec0)
        ra = self._ra0 + np.arctan2(
            -np.cos(theta) * np.sin(dphi),
            np.sin(theta) * cos_dec0 - np.cos(theta) * sin_dec0 * np.cos(dphi),
        )
        dec = np.arcsin(
            np.clip(np.sin(theta) * sin_dec0 + np.cos(theta) * cos_dec0 * np.cos(dphi), -1, 1)
        )
        return ra, dec

    def _rotate_to_native(self, ra, dec):
        dra = ra - self._ra0
        sin_dec0, cos_dec0 = np.sin(self._dec0), np.cos(self._dec0)
        phi = self._lonpole + np.arctan2(
            -np.cos(dec) * np.sin(dra),
            np.sin(dec) * cos_dec0 - np.cos(dec) * sin_dec0 * np.cos(dra),
        )
        theta = np.arcsin(
            np.clip(np.sin(dec) * sin_dec0 + np.cos(dec) * cos_dec0 * np.cos(dra), -1, 1)
        )
        return phi, theta

    def _undistort(self, target_u, target_v):
        """(u, v) with u + A(u, v) = target_u and v + B(u, v) = target_v, by Newton's method
        from the SIP inverse (AP, BP) as the first guess."""
        a, b = self.sip["A"], self.sip["B"]
        u = target_u + _polynomial(self.sip["AP"], target_u, target_v)
        v = target_v + _polynomial(self.sip["BP"], target_u, target_v)
        if not a and not b:
            return u, v
        for _ in range(20):
            du = target_u - u - _polynomial(a, u, v)
            dv = target_v - v - _polynomial(b, u, v)
            a_u, a_v = _derivatives(a, u, v)
            b_u, b_v = _derivatives(b, u, v)
            j11, j12, j21, j22 = 1 + a_u, a_v, b_u, 1 + b_v
            det = j11 * j22 - j12 * j21
            step_u, step_v = (j22 * du - j12 * dv) / det, (j11 * dv - j21 * du) / det
            u, v = u + step_u, v + step_v
            finite = np.isfinite(step_u) & np.isfinite(step_v)
            if not finite.any() or np.max(np.hypot(step_u, step_v)[finite]) < 1e-10:
                break
        return u, v


def _polynomial(terms, u, v):
    total = np.zeros(np.shape(u))
    for (p, q), coefficient in terms.items():
        total = total + coefficient * u**p * v**q
    return total


def _derivatives(terms, u, v):
    """d/du and d/dv of a SIP polynomial."""
    by_u, by_v = np.zeros(np.shape(u)), np.zeros(np.shape(u))
    for (p, q), coefficient in terms.items():
        if p:
            by_u = by_u + coefficient * p * u ** (p - 1) * v**q
        if q:
            by_v = by_v + coefficient * q * u**p * v ** (q - 1)
    return by_u, by_v
