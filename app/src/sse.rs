//! Server-sent events, decoded in time linear in the bytes received and with a bound on one
//! event's size: the server reads its providers' answers with it, the browser Hearth's own
//! streams and its MCP servers'.
//!
//! Each byte is scanned for a line end once: the buffer keeps only the line in progress, and
//! where the last scan stopped. An event (its lines up to the blank line that dispatches it)
//! larger than the limit is an error, not an ever-growing buffer. Fields follow the
//! EventSource rules: `event`, `data` (lines joined with `\n`), comments and other fields
//! ignored, lines ended by CRLF, LF or CR.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

/// The largest event read: the server's bound on a provider's event, and the browser's on
/// Hearth's and its MCP servers'.
pub const MAX_EVENT: usize = 8 << 20;

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, `message` when there was none.
    pub event: String,
    pub data: String,
}

/// An event (its lines up to the blank line that ends it) larger than the limit, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge(pub usize);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an event is larger than {} bytes", self.0)
    }
}

/// The parser's state between two chunks.
#[derive(Debug)]
pub struct Decoder {
    /// Bytes not yet consumed: the line in progress.
    line: Vec<u8>,
    /// How much of `line` is known to hold no line end.
    scanned: usize,
    /// The last byte consumed was a CR: an LF right after it ends nothing.
    after_cr: bool,
    event: String,
    data: String,
    /// Bytes of the event in progress, its lines' ends included.
    size: usize,
    max: usize,
}

impl Decoder {
    pub fn new(max_event: usize) -> Decoder {
        Decoder {
            line: Vec::new(),
            scanned: 0,
            after_cr: false,
            event: String::new(),
            data: String::new(),
            size: 0,
            max: max_event,
        }
    }

    /// Takes one chunk; the events it completes are pushed to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Event>) -> Result<(), TooLarge> {
        if self.after_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        self.line.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(offset) = self.line[self.scanned..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = self.scanned + offset;
            let mut next = end + 1;
            if self.line[end] == b'\r' {
                match self.line.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.size += next - start;
            if self.size > self.max {
                return Err(TooLarge(self.max));
            }
            let line = std::mem::take(&mut self.line);
            self.take_line(&line[start..end], out);
            self.line = line;
            start = next;
            self.scanned = next;
        }
        // One move per chunk, of the line in progress only.
        self.line.drain(..start);
        self.scanned = self.line.len();
        if self.size + self.line.len() > self.max {
            return Err(TooLarge(self.max));
        }
        Ok(())
    }

    fn take_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            self.size = 0;
            let event = std::mem::take(&mut self.event);
            if self.data.is_empty() {
                return;
            }
            let mut data = std::mem::take(&mut self.data);
            data.pop();
            out.push(Event {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data,
            });
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return,
            Some(i) => (
                &line[..i],
                line[i + 1..].strip_prefix(b" ").unwrap_or(&line[i + 1..]),
            ),
            None => (line, &[][..]),
        };
        match field {
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
            }
            _ => {}
        }
    }
}

/// The events of a body that arrives as chunks of bytes (or an error in words).
pub struct EventStream<S> {
    body: S,
    decoder: Decoder,
    ready: VecDeque<Event>,
    done: bool,
}

/// The events of `body`, each at most `max_event` bytes. An event left unfinished when the
/// body ends is dropped, as EventSource does; a body error or an event too large ends it.
pub fn events<S>(body: S, max_event: usize) -> EventStream<S>
where
    S: Stream<Item = Result<Vec<u8>, String>> + Unpin,
{
    EventStream {
        body,
        decoder: Decoder::new(max_event),
        ready: VecDeque::new(),
        done: false,
    }
}

impl<S> Stream for EventStream<S>
where
    S: Stream<Item = Result<Vec<u8>, String>> + Unpin,
{
    type Item = Result<Event, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let Some(chunk) = std::task::ready!(Pin::new(&mut this.body).poll_next(cx)) else {
                this.done = true;
                return Poll::Ready(None);
            };
            let mut out = Vec::new();
            let fed = chunk.and_then(|chunk| {
                this.decoder
                    .feed(&chunk, &mut out)
                    .map_err(|e| e.to_string())
            });
            this.ready.extend(out);
            if let Err(e) = fed {
                this.done = true;
                this.ready.clear();
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]], max: usize) -> Result<Vec<Event>, TooLarge> {
        let mut decoder = Decoder::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out)?;
        }
        Ok(out)
    }

    fn message(data: &str) -> Event {
        Event {
            event: "message".into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let text = b"event: ping\ndata: {\"a\":1}\n\n: comment\ndata: one\ndata: two\r\n\r\ndata:three\r\rid: 7\nretry: 5\ndata\n\n";
        let whole = decode(&[text], 1 << 20).unwrap();
        assert_eq!(
            whole,
            vec![
                Event {
                    event: "ping".into(),
                    data: "{\"a\":1}".into()
                },
                message("one\ntwo"),
                message("three"),
                message(""),
            ]
        );
        for size in 1..text.len() {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            assert_eq!(
                decode(&chunks, 1 << 20).unwrap(),
                whole,
                "split every {size} bytes"
            );
        }
    }

    #[test]
    fn a_crlf_split_between_two_chunks_is_one_line_end() {
        assert_eq!(
            decode(&[b"data: a\r", b"\n\r", b"\n"], 100).unwrap(),
            vec![message("a")]
        );
    }

    #[test]
    fn an_event_with_no_data_dispatches_nothing_and_invalid_utf8_is_replaced() {
        assert_eq!(
            decode(&[b"event: x\n\ndata: \xff\n\n"], 100).unwrap(),
            vec![message("\u{fffd}")]
        );
    }

    #[test]
    fn an_event_past_the_limit_is_an_error_whether_one_line_or_many() {
        assert!(
            matches!(decode(&[&[b'a'; 101]], 100), Err(TooLarge(100))),
            "a line in progress"
        );
        let many: Vec<&[u8]> = vec![b"data: 0123456789\n"; 10];
        assert!(
            matches!(decode(&many, 100), Err(TooLarge(100))),
            "many lines"
        );
        let small: Vec<&[u8]> = vec![b"data: 0123456789\n\n"; 100];
        assert_eq!(
            decode(&small, 100).unwrap().len(),
            100,
            "the limit is per event"
        );
    }

    #[test]
    fn a_stream_of_chunks_gives_its_events_then_ends_on_an_error() {
        use futures::StreamExt;
        let chunks: Vec<Result<Vec<u8>, String>> = vec![
            Ok(b"data: a\n\ndata: b".to_vec()),
            Ok(b"\n\ndata: c".to_vec()),
            Err("cut".into()),
            Ok(b"\n\n".to_vec()),
        ];
        let got: Vec<_> =
            futures::executor::block_on(events(futures::stream::iter(chunks), 100).collect());
        assert_eq!(
            got,
            vec![Ok(message("a")), Ok(message("b")), Err("cut".to_owned())]
        );
    }
}
