"""The PySide6 desktop app; the only package in Enhancer that imports Qt.

Heavy work goes through ``enhancer.runtime.runner.run_job`` on background threads (``job_queue``); loading,
saving and other slow calls go through ``background``. Everything else here is widgets.
"""
