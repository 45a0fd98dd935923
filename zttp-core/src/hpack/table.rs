//! The static table (RFC 7541 Appendix A) and the dynamic table (§2.3.2, §4).

use bytes::Bytes;
use std::collections::VecDeque;

/// Per-entry overhead in the size accounting of RFC 7541 §4.1.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// Size of an entry as §4.1 counts it.
pub(crate) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + ENTRY_OVERHEAD
}

/// Appendix A, index 1 first. Entries with the same name are adjacent.
pub(crate) const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Number of static entries; dynamic indices start right after.
pub(crate) const STATIC_LEN: usize = STATIC_TABLE.len();

/// One dynamic table entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: Bytes,
    pub(crate) value: Bytes,
}

/// The dynamic table: a FIFO of entries, newest first, whose total size never
/// exceeds its capacity (the size last set by a table size update).
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    pub(crate) fn new(capacity: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            capacity,
        }
    }

    /// The current maximum size (§4.2).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sum of the entry sizes.
    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at a 0-based dynamic index (0 is the newest).
    pub(crate) fn get(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    /// Changes the maximum size, evicting oldest entries until the table fits.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// Whether an entry of this size would survive insertion (§4.4: a larger
    /// one empties the table and is not added).
    pub(crate) fn fits(&self, size: usize) -> bool {
        size <= self.capacity
    }

    /// Adds an entry at the front, evicting from the back to make room.
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = entry_size(&name, &value);
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.capacity - size);
        self.size += size;
        self.entries.push_front(Entry { name, value });
    }

    /// Empties the table, as inserting an oversized entry does.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some(old) = self.entries.pop_back() else {
                break;
            };
            self.size -= entry_size(&old.name, &old.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table_spot_checks() {
        assert_eq!(STATIC_TABLE[0].0, b":authority");
        assert_eq!(
            STATIC_TABLE[15],
            (&b"accept-encoding"[..], &b"gzip, deflate"[..])
        );
        assert_eq!(STATIC_TABLE[60].0, b"www-authenticate");
    }

    #[test]
    fn evicts_oldest_first_and_counts_32_bytes_per_entry() {
        let mut t = DynamicTable::new(100);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1")); // 34
        t.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2")); // 68
        assert_eq!((t.len(), t.size()), (2, 68));
        t.insert(Bytes::from_static(b"c"), Bytes::from_static(b"3")); // evicts "a"
        assert_eq!((t.len(), t.size()), (2, 68));
        assert_eq!(&t.get(0).unwrap().name[..], b"c");
        assert_eq!(&t.get(1).unwrap().name[..], b"b");
        t.set_capacity(40);
        assert_eq!((t.len(), t.size()), (1, 34));
        t.set_capacity(0);
        assert_eq!((t.len(), t.size()), (0, 0));
    }

    #[test]
    fn oversized_entry_empties_the_table() {
        let mut t = DynamicTable::new(64);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        t.insert(Bytes::from(vec![b'x'; 40]), Bytes::new());
        assert_eq!((t.len(), t.size()), (0, 0));
    }
}
