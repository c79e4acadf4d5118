"""Static files storage for production (DEBUG off)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed-name, pre-compressed storage that also rewrites ES module imports.

    The Vite entries (tracker/dashboard.js, report.js) `import ... from "./shared.js"`. With the aggregation
    support on, collectstatic rewrites those to the chunks' hashed names, so a browser holding a cached
    entry (cached forever, as every hashed file is) never pairs it with a newer chunk of the same name.
    """

    support_js_module_import_aggregation = True
