"""Hardware flow on a real standard-cell library: Yosys + ABC synthesis to a Liberty
(`synth`), static timing with OpenSTA (`sta`), placement and routing with qflow's graywolf and
qrouter (`pnr`). External tools are Debian packages (``make install`` installs them as root);
`tools` finds them and turns their failures into one-line errors.
"""

from .liberty import Liberty, load_liberty
from .storage import find_storage_modules, is_storage_module
from .tools import DEFAULT_LIBERTY, FlowError, default_liberty

__all__ = ["Liberty", "load_liberty", "find_storage_modules", "is_storage_module",
           "DEFAULT_LIBERTY", "FlowError", "default_liberty"]
