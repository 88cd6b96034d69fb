"""The one number formatter of the report: prose, table cells and captions print numbers the same way.

Plain text only (no markup), so a number reads the same in the PDF, the HTML and a copied sentence:
thousands separators, 3 significant digits (4 from 100 to 999), a true minus sign, ×10ⁿ for the very
large and very small, an en dash for a missing value.
"""
from __future__ import annotations

import math

MISSING = "\u2013"
_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return MISSING if math.isnan(value) else ("\u221e" if value > 0 else "\u2212\u221e")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e6):
        text = f"{int(value):,}"
    else:
        a = abs(value)
        if a >= 1e6 or a < 1e-3:
            mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
            text = f"{mantissa}\u00d710{str(int(exponent)).translate(_SUPERSCRIPT)}"
        elif a >= 1000:
            text = f"{value:,.0f}"
        elif a >= 100:
            text = f"{value:.1f}"
        else:
            text = f"{value:.{digits}g}"
    return text.replace("-", "\u2212")


def fmt_p(p) -> str:
    """p-values as readers expect them: three decimals, '< 0.001' below that."""
    if p is None or (isinstance(p, float) and not math.isfinite(p)):
        return MISSING
    return "<\u00a00.001" if p < 0.001 else f"{p:.3f}"   # no-break space: never split across lines
