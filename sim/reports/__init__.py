"""The reports layer: figures and the HTML report, read from results, never running models.

Owns the Chinese/English labels and fonts (``fonts``), the figures of one run (``figures``),
sweep plots (``plots``) and the self-contained report page (``html``, docs/reports.md). May
import every layer below it, never ``sim.cli``.
"""
