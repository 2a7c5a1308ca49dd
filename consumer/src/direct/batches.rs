//! [`Batches`]: a [`DirectStream`]'s batches as a [`futures::Stream`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;

use super::{Batch, DirectStream, StreamError};

/// The batch being planned: the stream travels with it and comes back with the result.
type Planning =
    Pin<Box<dyn Future<Output = (Box<DirectStream>, Result<Batch, StreamError>)> + Send>>;

/// A [`DirectStream`] as a [`Stream`] of batches, from
/// [`DirectStream::into_batches`]: each item is what
/// [`next_batch`](DirectStream::next_batch) returns, in the same order and with the same
/// waits between batches.
///
/// The stream never ends. An error does not end it either: the next item retries the batch,
/// as calling `next_batch` again does (the positions are unchanged). Stop on the first error
/// with [`TryStreamExt::try_next`](futures::TryStreamExt::try_next) or `?`.
///
/// Between items, [`get_mut`](Self::get_mut) reaches the stream, for
/// [`batch_completed`](DirectStream::batch_completed) under backpressure or its
/// [`positions`](DirectStream::positions). While a batch is being planned (an item was asked
/// for and not yet delivered, for example when a timeout cancelled the wait), the stream is
/// inside that planning, and the next item continues it rather than starting over.
pub struct Batches {
    state: State,
}

enum State {
    /// Waiting to be asked for the next batch.
    Idle(Box<DirectStream>),
    /// Planning a batch.
    Planning(Planning),
}

impl Batches {
    pub(super) fn new(stream: DirectStream) -> Batches {
        Batches {
            state: State::Idle(Box::new(stream)),
        }
    }

    /// The stream, unless a batch is being planned.
    pub fn get_ref(&self) -> Option<&DirectStream> {
        match &self.state {
            State::Idle(stream) => Some(stream),
            State::Planning(_) => None,
        }
    }

    /// The stream, unless a batch is being planned.
    pub fn get_mut(&mut self) -> Option<&mut DirectStream> {
        match &mut self.state {
            State::Idle(stream) => Some(stream),
            State::Planning(_) => None,
        }
    }

    /// The stream back, unless a batch is being planned (then `Err(self)`, to be polled on).
    ///
    /// # Errors
    /// `Err(self)` while a batch is being planned.
    pub fn into_inner(self) -> Result<DirectStream, Batches> {
        match self.state {
            State::Idle(stream) => Ok(*stream),
            state @ State::Planning(_) => Err(Batches { state }),
        }
    }
}

impl Stream for Batches {
    type Item = Result<Batch, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle(_) => {
                    // A zero-sized placeholder (no allocation) while the stream moves into
                    // the planning future.
                    let placeholder = State::Planning(Box::pin(std::future::pending()));
                    if let State::Idle(stream) = std::mem::replace(&mut this.state, placeholder) {
                        this.state = State::Planning(plan(stream));
                    }
                }
                State::Planning(planning) => {
                    let (stream, batch) = ready!(planning.as_mut().poll(cx));
                    this.state = State::Idle(stream);
                    return Poll::Ready(Some(batch));
                }
            }
        }
    }
}

/// Plans the next batch of `stream`, handing the stream back with it.
fn plan(mut stream: Box<DirectStream>) -> Planning {
    Box::pin(async move {
        let batch = stream.next_batch().await;
        (stream, batch)
    })
}

impl FusedStream for Batches {
    /// Never: the stream of batches does not end.
    fn is_terminated(&self) -> bool {
        false
    }
}

impl fmt::Debug for Batches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Idle(stream) => f.debug_tuple("Batches").field(stream).finish(),
            State::Planning(_) => f.debug_tuple("Batches").field(&"<planning>").finish(),
        }
    }
}
