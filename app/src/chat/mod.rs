//! The chat's logic that does not touch the page: the names tools are offered to the model
//! under ([`tool_names`]), the request for the next turn ([`request`]), the assembly of a
//! streamed answer from its chunks ([`stream`]) and answers rendered as safe HTML
//! ([`markdown`], [`highlight`]). All plain Rust, tested natively.

pub mod highlight;
pub mod markdown;
pub mod request;
pub mod stream;
pub mod tool_names;
