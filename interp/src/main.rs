//! The `pipe` command.

fn main() {}
