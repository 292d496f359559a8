//! Modal dialogs on the browser's own `<dialog>`, opened with `showModal()`: the page behind
//! is inert, focus moves in (to the first field, or the element marked `autofocus`), Tab and
//! Shift+Tab stay inside, Escape closes, and focus returns to the element that opened it.
//! Errors sit beside the field they are about, tied to it with `aria-describedby`.

use leptos::prelude::*;

use crate::api::client::ApiError;

/// A modal dialog. Closing it is the owner's business: `on_close` runs on Escape, and the
/// owner removes the dialog from the page (which gives focus back to its opener).
#[component]
pub fn Modal(
    /// The id of the dialog's heading.
    labelledby: &'static str,
    #[prop(into)] on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let opener = document()
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        let opener = send_wrapper::SendWrapper::new(opener);
        dialog.on_load(|d| {
            let _ = d.show_modal();
        });
        // Once the dialog has left the page: while it is open, the page behind is inert.
        on_cleanup(move || {
            if let Some(opener) = opener.take() {
                request_animation_frame(move || {
                    let _ = opener.focus();
                });
            }
        });
    }
    view! {
        <dialog
            class="card dialog"
            node_ref=dialog
            aria-labelledby=labelledby
            on:cancel=move |ev: leptos::ev::Event| {
                ev.prevent_default();
                on_close.run(());
            }
            on:keydown=move |ev| keep_focus_inside(&ev)
        >
            {children()}
        </dialog>
    }
}

/// Tab past the last control goes to the first, Shift+Tab before the first to the last: focus
/// never leaves the dialog for the browser's own controls.
fn keep_focus_inside(ev: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if ev.key() != "Tab" {
            return;
        }
        let Some(dialog) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let Ok(found) = dialog.query_selector_all(
            "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])",
        ) else {
            return;
        };
        let controls: Vec<web_sys::HtmlElement> = (0..found.length())
            .filter_map(|i| found.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
            .collect();
        let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
            return;
        };
        let active = document().active_element();
        let at = |el: &web_sys::HtmlElement| {
            active
                .as_ref()
                .is_some_and(|a| a == el.unchecked_ref::<web_sys::Element>())
        };
        let to = match (ev.shift_key(), at(first), at(last)) {
            (true, true, _) => last,
            (false, _, true) => first,
            _ => return,
        };
        ev.prevent_default();
        let _ = to.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// The error of one field, shown under it. The field names `id` in its `aria-describedby`.
#[component]
pub fn FieldError(id: &'static str, #[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="error field-error" id=id role="alert" class:hidden=move || error.with(Option::is_none)>
            {move || error.get()}
        </p>
    }
}

/// A form's errors: the one Hearth tied to a field (its `param`) shows beside that field, any
/// other at the top of the form.
#[derive(Clone, Copy)]
pub struct FormErrors {
    pub general: RwSignal<Option<String>>,
    field: RwSignal<Option<(String, String)>>,
}

impl FormErrors {
    pub fn new() -> FormErrors {
        FormErrors {
            general: RwSignal::new(None),
            field: RwSignal::new(None),
        }
    }

    pub fn clear(&self) {
        self.general.set(None);
        self.field.set(None);
    }

    /// Shows `error` beside its field when it names one of `fields`, else at the top. A name
    /// already taken (409) is about the name.
    pub fn show(&self, error: ApiError, fields: &[&str]) {
        let param = error
            .param
            .clone()
            .or_else(|| (error.status == 409).then(|| "name".to_owned()));
        match param.filter(|p| fields.contains(&p.as_str())) {
            Some(param) => self.field.set(Some((param, error.message))),
            None => self.general.set(Some(error.message)),
        }
    }

    /// The error of field `param`, if it has one.
    pub fn of(&self, param: &'static str) -> Signal<Option<String>> {
        let field = self.field;
        Signal::derive(move || {
            field.with(|f| {
                f.as_ref()
                    .filter(|(p, _)| p == param)
                    .map(|(_, m)| m.clone())
            })
        })
    }
}

impl Default for FormErrors {
    fn default() -> Self {
        FormErrors::new()
    }
}

/// "Are you sure?" for an action that cannot be undone, in place of the browser's `confirm()`.
#[component]
pub fn ConfirmDialog(
    title: String,
    text: String,
    /// The button that does it ("Delete", "Revoke").
    action: &'static str,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    view! {
        <Modal labelledby="confirm-title" on_close>
            <h2 id="confirm-title">{title}</h2>
            <p>{text}</p>
            <div class="actions">
                <button type="button" class="button" autofocus on:click=move |_| on_close.run(())>"Cancel"</button>
                <button type="button" class="button danger" on:click=move |_| on_confirm.run(())>{action}</button>
            </div>
        </Modal>
    }
}

/// One line of text to enter (a new title), in place of the browser's `prompt()`.
#[component]
pub fn TextDialog(
    title: &'static str,
    label: &'static str,
    value: String,
    #[prop(into)] on_submit: Callback<String>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let text = RwSignal::new(value);
    let empty = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = text.get_untracked().trim().to_owned();
        if value.is_empty() {
            empty.set(Some(format!("{label} cannot be empty.")));
        } else {
            on_submit.run(value);
        }
    };
    view! {
        <Modal labelledby="text-dialog-title" on_close>
            <form on:submit=submit>
                <h2 id="text-dialog-title">{title}</h2>
                <div class="field">
                    <label for="text-dialog-value">{label}</label>
                    <input
                        id="text-dialog-value"
                        autofocus
                        bind:value=text
                        aria-describedby="text-dialog-error"
                        aria-invalid=move || empty.with(Option::is_some).to_string()
                    />
                    <FieldError id="text-dialog-error" error=empty/>
                </div>
                <div class="actions">
                    <button type="button" class="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="button primary">"Save"</button>
                </div>
            </form>
        </Modal>
    }
}
