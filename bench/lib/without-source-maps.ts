// Imported right after tsx wherever a benchmark runs the service: tsx turns Node's source maps on,
// which `make run` and the image leave off, and with tracing on that changed what was measured
// (docs/guides/tracing.md, "Measuring it").
process.setSourceMapsEnabled(false);
