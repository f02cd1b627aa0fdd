//! pipe-interp: checked program -> stage graph -> cache lookups -> parallel
//! execution -> reports; watch mode.
