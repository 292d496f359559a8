//! What every page shares, written once so a fix lands everywhere: the app's frame
//! ([`AppLayout`]), tables ([`DataTable`]), names to tick ([`NameChoices`]), the refusal of a
//! page ([`NotForRole`]), and modal dialogs with errors beside their fields ([`Modal`],
//! [`ConfirmDialog`], [`TextDialog`], [`FieldError`], [`FormErrors`]).

mod dialog;
mod frame;

pub use dialog::{ConfirmDialog, FieldError, FormErrors, Modal, TextDialog};
pub use frame::{AppLayout, DataTable, Frame, NameChoices, NotForRole};
