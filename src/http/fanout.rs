//! Chain-wide reads (filled in below).
