"""The command line: ``sim run`` and ``sim validate`` (``main``), and the plug-in commands
``sim sweep`` (``sweep``), ``sim size`` (``size``) and ``sim report`` (``report``).

The top layer: it may import every other layer, and nothing imports it but the entry points.
Heavy modules are imported inside the commands, so ``sim --help`` stays light.
"""
