//! Auto-paging: a `Stream` of items that fetches `page[number]` lazily and stops exactly as Telnyx's
//! SDKs do — on an empty page, or when `page_number >= total_pages`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::types::Page;
use crate::error::Error;
use crate::provider::BoxFuture;

/// Pages fetched at most by one stream: a server whose `meta` never ends the list cannot keep a
/// stream going forever.
pub const MAX_PAGES: u64 = 10_000;

type Fetch<T> = Box<dyn Fn(u64) -> BoxFuture<'static, Result<Page<T>, Error>> + Send + Sync>;

enum State<T> {
    Next(u64),
    Fetching(u64, BoxFuture<'static, Result<Page<T>, Error>>),
    Done,
}

/// A lazy stream of every item of a list, page after page.
pub struct ListStream<T> {
    fetch: Fetch<T>,
    buffer: VecDeque<T>,
    state: State<T>,
}

impl<T> std::fmt::Debug for ListStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListStream")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl<T> ListStream<T> {
    pub(crate) fn new(fetch: Fetch<T>) -> Self {
        Self {
            fetch,
            buffer: VecDeque::new(),
            state: State::Next(1),
        }
    }
}

impl<T: Unpin> Stream for ListStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // Bounded: each turn either yields, fetches one page, or ends.
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Next(n) => {
                    let n = *n;
                    if n > MAX_PAGES {
                        this.state = State::Done;
                        continue;
                    }
                    this.state = State::Fetching(n, (this.fetch)(n));
                }
                State::Fetching(requested, fut) => {
                    let requested = *requested;
                    match fut.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            this.state = State::Done;
                            return Poll::Ready(Some(Err(e)));
                        }
                        Poll::Ready(Ok(page)) => {
                            let current = page.meta.page_number.unwrap_or(requested).max(requested);
                            let last = page.data.is_empty()
                                || page.meta.total_pages.is_some_and(|total| current >= total);
                            this.buffer.extend(page.data);
                            this.state = if last {
                                State::Done
                            } else {
                                State::Next(current + 1)
                            };
                        }
                    }
                }
            }
        }
    }
}
