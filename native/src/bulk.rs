//! The bulk request body (`shippers/elasticsearch/encoder.py`): per document a `create` action line with its id, the
//! document's JSON and a newline, every document of a batch in one buffer, with where each one and its JSON start.
//! Python receives the buffer once and cuts requests out of it by these offsets, without an object per document.

/// `{"create":{"_id":"` .. id .. `"}}\n`: `create`, so that a replayed id is refused, not overwritten.
pub const ACTION_HEAD: &[u8] = br#"{"create":{"_id":""#;
pub const ACTION_TAIL: &[u8] = b"\"}}\n";

/// The documents of a batch as bulk lines.
#[derive(Default)]
pub struct Bulk {
    pub buf: Vec<u8>,
    /// Per document, where its action line starts in `buf`.
    pub starts: Vec<u64>,
    /// Per document, where its JSON starts in `buf` (its action line ends there).
    pub bodies: Vec<u64>,
}

impl Bulk {
    /// A bulk buffer that reuses `buf`'s memory (emptied).
    pub fn reusing(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Bulk { buf, ..Bulk::default() }
    }

    /// Start the document `id`: its action line is written, its JSON goes to `buf` next, then `end`.
    /// Ids are the transform's own (URL-safe base64), which need no JSON escape.
    pub fn begin(&mut self, id: &str) {
        self.starts.push(self.buf.len() as u64);
        self.buf.extend_from_slice(ACTION_HEAD);
        self.buf.extend_from_slice(id.as_bytes());
        self.buf.extend_from_slice(ACTION_TAIL);
        self.bodies.push(self.buf.len() as u64);
    }

    pub fn end(&mut self) {
        self.buf.push(b'\n');
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Where the buffer stands: `truncate` goes back to it (the documents of a record handed back).
    pub fn mark(&self) -> (usize, usize) {
        (self.starts.len(), self.buf.len())
    }

    pub fn truncate(&mut self, (docs, bytes): (usize, usize)) {
        self.starts.truncate(docs);
        self.bodies.truncate(docs);
        self.buf.truncate(bytes);
    }

    /// The JSON of document `i`.
    pub fn body(&self, i: usize) -> &[u8] {
        let end = self.starts.get(i + 1).map_or(self.buf.len(), |s| *s as usize) - 1;
        &self.buf[self.bodies[i] as usize..end]
    }

    /// The id of document `i`.
    pub fn id(&self, i: usize) -> &str {
        let bytes = &self.buf[self.starts[i] as usize + ACTION_HEAD.len()..self.bodies[i] as usize - ACTION_TAIL.len()];
        std::str::from_utf8(bytes).expect("ids are ASCII")
    }

    /// Per document its start, then the buffer's end: `len() + 1` offsets, as native u64 bytes.
    pub fn start_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity((self.starts.len() + 1) * 8);
        for s in self.starts.iter().chain(std::iter::once(&(self.buf.len() as u64))) {
            out.extend_from_slice(&s.to_ne_bytes());
        }
        out
    }

    /// Per document where its JSON starts, as native u64 bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.bodies.iter().flat_map(|b| b.to_ne_bytes()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_as_create_actions() {
        let mut b = Bulk::reusing(b"old".to_vec());
        for (id, json) in [("a", &b"{\"m\":1}"[..]), ("b", b"{}"), ("c", b"{\"x\":2}")] {
            b.begin(id);
            b.buf.extend_from_slice(json);
            b.end();
        }
        let mark = b.mark();
        b.begin("dropped");
        b.buf.extend_from_slice(b"{");
        b.truncate(mark);
        assert_eq!(b.buf, b"{\"create\":{\"_id\":\"a\"}}\n{\"m\":1}\n{\"create\":{\"_id\":\"b\"}}\n{}\n\
                           {\"create\":{\"_id\":\"c\"}}\n{\"x\":2}\n".to_vec());
        assert_eq!((b.id(1), b.body(1), b.body(2)), ("b", &b"{}"[..], &b"{\"x\":2}"[..]));
        assert_eq!(b.start_bytes().len(), 4 * 8);
        assert_eq!(b.body_bytes().len(), 3 * 8);
    }
}
