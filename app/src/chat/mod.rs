//! The chat's logic that does not touch the page: the names tools are offered to the model
//! under ([`tool_names`]) and the assembly of a streamed answer from its chunks ([`stream`]).
//! Both are plain Rust, tested natively.

pub mod stream;
pub mod tool_names;
