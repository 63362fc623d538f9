// Imported right after tsx wherever a benchmark runs the service: tsx turns Node's source maps
// on, which `make run` and the image leave off. With them on, each stack trace formatted makes
// Node parse the source maps of the files in it, and with tracing on, require-in-the-middle's
// hook formats one at every `require` through tsx's resolver: about 3,000 at start-up. The maps
// parsed stay alive, and their keys add about 100 object shapes made from `{}`. In
// `bench:tracing-cpu` the traced service then spent more of its run at V8's limit of 1,536 such
// shapes (past it, header objects share no shape and every header lookup misses its cache), and a
// product read measured about 20 % more CPU than with source maps off, in three runs.
process.setSourceMapsEnabled(false);
