//! Futures polled again at once when they wake themselves.
//!
//! A tokio task woken while it runs is put back on the run queue as if it had yielded, and
//! another runtime thread is woken to take it: a context switch or two on the machine. Such
//! wakes are common within one poll of a connection: hyper's request body wakes the
//! connection that feeds it as it is read, a channel's sender wakes the receiver waiting in
//! the same task when it is dropped, a client connection driven in the task wakes the
//! request waiting on it. [`settled`] polls its future with a waker of its own: a wake while
//! it polls only marks another pass, made at once; a wake from anywhere else wakes the task
//! as usual.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Passes made in one poll before the task yields to the runtime's other tasks.
const MAX_PASSES: usize = 16;

const IDLE: u8 = 0;
const POLLING: u8 = 1;
const WOKEN: u8 = 2;

/// `future`, its own wakes while polled answered by polling it again at once.
pub fn settled<F: Future>(future: F) -> Settled<F> {
    let round = Arc::new(Round::default());
    Settled {
        future,
        waker: Waker::from(round.clone()),
        round,
    }
}

pin_project_lite::pin_project! {
    /// A future polled by [`settled`]. A type of its own rather than an `async fn`: the
    /// future it holds is kept once, not copied into a second slot (an `async fn` keeps its
    /// argument and its pinned move both), which matters for the large futures it drives.
    pub struct Settled<F> {
        #[pin]
        future: F,
        round: Arc<Round>,
        waker: Waker,
    }
}

impl<F: Future> Future for Settled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let round = &**this.round;
        round.task.register(cx.waker());
        let mut inner = Context::from_waker(this.waker);
        for _ in 0..MAX_PASSES {
            round.state.store(POLLING, Ordering::Release);
            if let Poll::Ready(out) = this.future.as_mut().poll(&mut inner) {
                round.state.store(IDLE, Ordering::Release);
                return Poll::Ready(out);
            }
            // Nothing woke it meanwhile: it waits on something outside.
            if round
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Pending;
            }
        }
        // Still waking itself after so many passes: the runtime's other tasks go first.
        round.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The waker [`settled`] polls with.
#[derive(Default)]
struct Round {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Round {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let noted =
            self.state
                .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire);
        match noted {
            // Seen by the pass under way, or the next.
            Ok(_) | Err(WOKEN) => {}
            Err(_) => self.task.wake(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wakes of the task that polls it.
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn poll_once<F: Future>(
        future: std::pin::Pin<&mut F>,
        task: &Arc<Counting>,
    ) -> Poll<F::Output> {
        let waker = Waker::from(task.clone());
        future.poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_wake_while_polled_is_another_pass_not_a_wake_of_the_task() {
        let task = Arc::new(Counting(AtomicUsize::new(0)));
        let mut passes = 0;
        let mut future = pin!(settled(poll_fn(|cx| {
            passes += 1;
            if passes < 3 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(passes)
            }
        })));
        assert_eq!(poll_once(future.as_mut(), &task), Poll::Ready(3));
        assert_eq!(task.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_wake_from_elsewhere_wakes_the_task() {
        let task = Arc::new(Counting(AtomicUsize::new(0)));
        let kept: std::cell::RefCell<Option<Waker>> = Default::default();
        let mut future = pin!(settled(poll_fn(|cx| {
            if kept.borrow().is_some() {
                return Poll::Ready(());
            }
            *kept.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })));
        assert!(poll_once(future.as_mut(), &task).is_pending());
        assert_eq!(task.0.load(Ordering::Relaxed), 0);
        kept.borrow().as_ref().unwrap().wake_by_ref();
        assert_eq!(task.0.load(Ordering::Relaxed), 1);
        assert!(poll_once(future.as_mut(), &task).is_ready());
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_to_the_runtime() {
        let task = Arc::new(Counting(AtomicUsize::new(0)));
        let passes = std::cell::Cell::new(0);
        let mut future = pin!(settled(poll_fn(|cx: &mut Context<'_>| {
            passes.set(passes.get() + 1);
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        })));
        assert!(poll_once(future.as_mut(), &task).is_pending());
        assert_eq!(
            task.0.load(Ordering::Relaxed),
            1,
            "woken once, to run again later"
        );
        assert_eq!(passes.get(), MAX_PASSES);
    }
}
