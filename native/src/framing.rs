//! Split a syslog TCP stream into messages: `collectors/syslog/framing.py`, byte for byte the same messages and
//! truncation flags for any stream cut into any reads (tests/unit/test_syslog_framing.py holds the two together).
//!
//! RFC 6587 octet counting (`<len> <msg>`) and newline framing are told apart per message by its first byte (a
//! digit starts an octet count), as rsyslog and syslog-ng do. Memory is bounded by `max_bytes`: a longer message is
//! cut there and marked truncated, and the rest of it is skipped as it arrives.

/// Digits an octet count may have before it is read as the start of a newline-framed message instead.
const MAX_LEN_DIGITS: usize = 10;

#[derive(Debug)]
pub struct Framer {
    pub max_bytes: usize,
    pub buf: Vec<u8>,
    /// Bytes of an octet-counted message still to skip.
    count_left: u64,
    skip_to_newline: bool,
}

fn find(hay: &[u8], byte: u8) -> Option<usize> {
    hay.iter().position(|&b| b == byte)
}

impl Framer {
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes, buf: Vec::new(), count_left: 0, skip_to_newline: false }
    }

    /// Messages completed by `data`, each with whether it was truncated, handed to `emit` as slices of the buffer.
    pub fn feed(&mut self, data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        let max = self.max_bytes;
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(data);
        let len = buf.len();
        let mut pos = 0;
        while pos < len {
            if self.count_left > 0 {
                let n = self.count_left.min((len - pos) as u64);
                pos += n as usize;
                self.count_left -= n;
                continue;
            }
            if self.skip_to_newline {
                match find(&buf[pos..], b'\n') {
                    None => {
                        pos = len;
                        break;
                    }
                    Some(nl) => {
                        pos += nl + 1;
                        self.skip_to_newline = false;
                        continue;
                    }
                }
            }
            if buf[pos].is_ascii_digit() {
                let window = &buf[pos..len.min(pos + MAX_LEN_DIGITS + 1)];
                let sp = match find(window, b' ') {
                    Some(i) => Some(pos + i),
                    None if len - pos > MAX_LEN_DIGITS => None, // not a count after all
                    None => break,                              // the count is still arriving
                };
                if let Some(sp) = sp.filter(|&sp| buf[pos..sp].iter().all(u8::is_ascii_digit)) {
                    // At most ten digits: the count fits a u64.
                    let length = buf[pos..sp].iter().fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
                    let start = sp + 1;
                    if length <= max as u64 {
                        let length = length as usize;
                        if len - start < length {
                            break;
                        }
                        emit(&buf[start..start + length], false);
                        pos = start + length;
                    } else {
                        if len - start < max {
                            break;
                        }
                        emit(&buf[start..start + max], true);
                        pos = start + max;
                        self.count_left = length - max as u64;
                    }
                    continue;
                }
            }
            match find(&buf[pos..], b'\n') {
                None => {
                    if len - pos > max {
                        emit(&buf[pos..pos + max], true);
                        pos = len;
                        self.skip_to_newline = true;
                    }
                    break;
                }
                Some(i) => {
                    let nl = pos + i;
                    if nl > pos {
                        // Empty lines between messages are not messages.
                        let line = &buf[pos..nl];
                        if line.len() > max {
                            emit(&line[..max], true);
                        } else {
                            emit(line, false);
                        }
                    }
                    pos = nl + 1;
                }
            }
        }
        buf.drain(..pos);
        self.buf = buf;
    }

    /// At the end of the stream: a last message without its newline is still a message.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.buf);
        let whole = !rest.is_empty() && self.count_left == 0 && !self.skip_to_newline && !rest[0].is_ascii_digit();
        whole.then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed_all(framer: &mut Framer, stream: &[u8], step: usize) -> Vec<(Vec<u8>, bool)> {
        let mut got = Vec::new();
        for chunk in stream.chunks(step.max(1)) {
            framer.feed(chunk, |m, cut| got.push((m.to_vec(), cut)));
        }
        got.extend(framer.finish().map(|m| (m, false)));
        got
    }

    #[test]
    fn oversized_messages_are_cut_and_skipped() {
        let big: Vec<u8> = [b"<13>".as_slice(), &[b'x'; 5000]].concat();
        let mut stream = format!("{} ", big.len()).into_bytes();
        stream.extend_from_slice(&big);
        stream.extend_from_slice(b"<13>next\n");
        stream.extend_from_slice(&big);
        stream.extend_from_slice(b"\n<13>after\n");
        let mut framer = Framer::new(600);
        let mut got = Vec::new();
        for chunk in stream.chunks(700) {
            framer.feed(chunk, |m, cut| got.push((m.to_vec(), cut)));
            assert!(framer.buf.len() <= 600 + 700);
        }
        let want = vec![(big[..600].to_vec(), true), (b"<13>next".to_vec(), false), (big[..600].to_vec(), true),
                        (b"<13>after".to_vec(), false)];
        assert_eq!(got, want);
    }

    #[test]
    fn a_last_message_without_newline_counts_unless_it_may_be_a_count() {
        let mut framer = Framer::new(100);
        assert_eq!(feed_all(&mut framer, b"<13>a\n<13>b", 3), vec![(b"<13>a".to_vec(), false), (b"<13>b".to_vec(), false)]);
        let mut framer = Framer::new(100);
        assert_eq!(feed_all(&mut framer, b"12 <13>", 3), vec![]);
    }

    proptest! {
        #[test]
        fn any_mix_of_framings_round_trips_whatever_the_reads(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..80), 1..12),
            octet in proptest::collection::vec(any::<bool>(), 12),
            step in 1usize..40,
        ) {
            let messages: Vec<Vec<u8>> = messages.into_iter()
                .map(|m| [b"<13>".as_slice(), &m.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect::<Vec<_>>()].concat())
                .collect();
            let mut stream = Vec::new();
            for (m, o) in messages.iter().zip(&octet) {
                if *o {
                    stream.extend_from_slice(format!("{} ", m.len()).as_bytes());
                    stream.extend_from_slice(m);
                } else {
                    stream.extend_from_slice(m);
                    stream.push(b'\n');
                }
            }
            let mut framer = Framer::new(1024);
            let got = feed_all(&mut framer, &stream, step);
            prop_assert_eq!(got, messages.into_iter().map(|m| (m, false)).collect::<Vec<_>>());
        }
    }
}
