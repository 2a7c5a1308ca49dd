//! Compression codecs used inside record batches.
