//! The encoder's look-ups: the static table by name, and the dynamic table by
//! name and by whole field, each one hashed probe instead of a scan.
//!
//! A field's name is hashed once; that hash finds the name in the static
//! table and in the dynamic table, and, carried on over the value, finds the
//! whole field in the dynamic table. Every look-up checks the entry it
//! finds, so a hash collision can cost compression, never correctness.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use super::table::{DynamicTable, Entry, STATIC_TABLE};

/// 2^64 divided by the golden ratio, odd: the multiplier of the hash.
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// Hash of a field name.
pub(crate) fn hash_name(name: &[u8]) -> u64 {
    hash_bytes(0, name)
}

/// Hash of a whole field, continuing the hash of its name.
pub(crate) fn hash_field(name_hash: u64, value: &[u8]) -> u64 {
    hash_bytes(name_hash, value)
}

/// Eight bytes per multiplication. Only the top bits are used as a slot: a
/// multiplication carries every input bit up into them.
fn hash_bytes(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word: [u8; 8] = word.try_into().expect("chunks of eight");
        hash = (hash ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
    }
    let tail = words
        .remainder()
        .iter()
        .fold(bytes.len() as u64, |tail, &b| tail << 8 | u64::from(b));
    (hash ^ tail).wrapping_mul(MULTIPLIER)
}

/// The slot of `hash` in a table of `1 << bits` slots.
fn slot(hash: u64, bits: u32) -> usize {
    (hash >> (64 - bits)) as usize
}

/// The static table has 52 distinct names; 128 slots keep probes short.
const STATIC_BITS: u32 = 7;

/// Static names by hash, open addressing with linear probing. A slot holds the
/// 1-based index of the name's first entry and the number of entries with that
/// name, or `(0, 0)`.
fn static_slots() -> &'static [(u8, u8); 1 << STATIC_BITS] {
    static SLOTS: OnceLock<[(u8, u8); 1 << STATIC_BITS]> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let mut slots = [(0, 0); 1 << STATIC_BITS];
        let mut first = 0;
        while first < STATIC_TABLE.len() {
            let name = STATIC_TABLE[first].0;
            let count = STATIC_TABLE[first..]
                .iter()
                .take_while(|(n, _)| *n == name)
                .count();
            let mut s = slot(hash_name(name), STATIC_BITS);
            while slots[s].0 != 0 {
                s = (s + 1) % slots.len();
            }
            // Both fit: the table has 61 entries.
            slots[s] = ((first + 1) as u8, count as u8);
            first += count;
        }
        slots
    })
}

/// Where `name` (with hash `name_hash`) sits in the static table: the 1-based
/// index of its first entry and the number of entries with that name.
pub(crate) fn static_name(name: &[u8], name_hash: u64) -> Option<(usize, usize)> {
    let slots = static_slots();
    let mut s = slot(name_hash, STATIC_BITS);
    loop {
        let (first, count) = slots[s];
        if first == 0 {
            return None;
        }
        if STATIC_TABLE[usize::from(first) - 1].0 == name {
            return Some((usize::from(first), usize::from(count)));
        }
        s = (s + 1) % slots.len();
    }
}

/// The encoder's dynamic table entries by name hash and by field hash.
///
/// Entries are numbered by insertion (a wrapping `u16`, far more than the
/// 128 entries a 4096-octet table can hold); a number becomes a table
/// position by its distance from the newest. Each map keeps the newest
/// entry per hash, and forgets it when it is evicted: `evicted` is told the
/// table's length after every change. A look-up checks the entry it finds,
/// so two fields with the same 64-bit hash can cost compression, never
/// correctness.
#[derive(Debug, Default, Clone)]
pub(crate) struct DynamicIndex {
    by_name: HashMap<u64, u16, BuildHasherDefault<PremixedHasher>>,
    by_field: HashMap<u64, u16, BuildHasherDefault<PremixedHasher>>,
    /// `(name hash, field hash)` of each entry, newest first, as in the table.
    hashes: VecDeque<(u64, u64)>,
    /// The number of the newest entry.
    newest: u16,
}

impl DynamicIndex {
    /// Records the entry just inserted at the front of the table.
    pub(crate) fn inserted(&mut self, name_hash: u64, field_hash: u64) {
        self.newest = self.newest.wrapping_add(1);
        self.by_name.insert(name_hash, self.newest);
        self.by_field.insert(field_hash, self.newest);
        self.hashes.push_front((name_hash, field_hash));
    }

    /// Forgets the entries evicted since the table last had `table_len` or
    /// more entries (the oldest ones).
    pub(crate) fn evicted(&mut self, table_len: usize) {
        while self.hashes.len() > table_len {
            let number = self.newest.wrapping_sub((self.hashes.len() - 1) as u16);
            let Some((name_hash, field_hash)) = self.hashes.pop_back() else {
                break;
            };
            if self.by_name.get(&name_hash) == Some(&number) {
                self.by_name.remove(&name_hash);
            }
            if self.by_field.get(&field_hash) == Some(&number) {
                self.by_field.remove(&field_hash);
            }
        }
    }

    /// The 0-based dynamic index of an entry equal to `(name, value)`.
    pub(crate) fn find_field(
        &self,
        table: &DynamicTable,
        name: &[u8],
        value: &[u8],
        field_hash: u64,
    ) -> Option<usize> {
        let number = *self.by_field.get(&field_hash)?;
        self.entry(table, number)
            .filter(|(_, e)| e.name == name && e.value == value)
            .map(|(i, _)| i)
    }

    /// The 0-based dynamic index and the entry of the newest entry named `name`.
    pub(crate) fn find_name<'t>(
        &self,
        table: &'t DynamicTable,
        name: &[u8],
        name_hash: u64,
    ) -> Option<(usize, &'t Entry)> {
        let number = *self.by_name.get(&name_hash)?;
        self.entry(table, number).filter(|(_, e)| e.name == name)
    }

    fn entry<'t>(&self, table: &'t DynamicTable, number: u16) -> Option<(usize, &'t Entry)> {
        let index = usize::from(self.newest.wrapping_sub(number));
        table.get(index).map(|e| (index, e))
    }
}

/// Hashes a key that is already a hash: folds its well-mixed high half into
/// the low bits the map picks buckets by.
#[derive(Debug, Default)]
pub(crate) struct PremixedHasher(u64);

impl Hasher for PremixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach this hasher.
        self.0 = hash_bytes(self.0, bytes);
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash ^ (hash >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn find_static(name: &[u8]) -> Option<(usize, usize)> {
        static_name(name, hash_name(name))
    }

    #[test]
    fn static_names_spot_checks() {
        assert_eq!(find_static(b":authority"), Some((1, 1)));
        assert_eq!(find_static(b":status"), Some((8, 7)));
        assert_eq!(find_static(b":method"), Some((2, 2)));
        assert_eq!(find_static(b"www-authenticate"), Some((61, 1)));
        assert_eq!(find_static(b"x-custom"), None);
        assert_eq!(find_static(b""), None);
        assert_eq!(find_static(b"Date"), None);
        assert_eq!(find_static(b"dat"), None);
    }

    #[test]
    fn every_static_entry_is_found_by_name() {
        for (i, (name, _)) in STATIC_TABLE.iter().enumerate() {
            let (first, count) = find_static(name).unwrap();
            assert!(
                (first - 1..first - 1 + count).contains(&i),
                "entry {}",
                i + 1
            );
            assert_eq!(STATIC_TABLE[first - 1].0, *name);
            let names = &STATIC_TABLE[first - 1..first - 1 + count];
            assert!(names.iter().all(|(n, _)| n == name));
            if first > 1 {
                assert_ne!(
                    STATIC_TABLE[first - 2].0,
                    *name,
                    "entry {first} is not the first"
                );
            }
        }
    }

    #[test]
    fn every_static_entry_is_found_by_name_and_value() {
        for (i, (name, value)) in STATIC_TABLE.iter().enumerate() {
            let (first, count) = find_static(name).unwrap();
            let found = (first..first + count).find(|&j| STATIC_TABLE[j - 1].1 == *value);
            assert_eq!(found, Some(i + 1));
        }
    }

    #[test]
    fn hash_depends_on_every_byte_and_on_the_split() {
        let a = hash_field(hash_name(b"ab"), b"c");
        let b = hash_field(hash_name(b"a"), b"bc");
        assert_ne!(a, b);
        let long = b"mon, 21 oct 2013 20:13:21 gmt";
        let mut other = *long;
        for i in 0..long.len() {
            other[i] ^= 1;
            assert_ne!(hash_name(long), hash_name(&other), "byte {i}");
            other[i] ^= 1;
        }
    }

    fn insert(table: &mut DynamicTable, index: &mut DynamicIndex, name: &str, value: &str) {
        let name_hash = hash_name(name.as_bytes());
        table.insert(
            Bytes::copy_from_slice(name.as_bytes()),
            Bytes::copy_from_slice(value.as_bytes()),
        );
        index.inserted(name_hash, hash_field(name_hash, value.as_bytes()));
        index.evicted(table.len());
    }

    fn find_field(
        table: &DynamicTable,
        index: &DynamicIndex,
        name: &str,
        value: &str,
    ) -> Option<usize> {
        let hash = hash_field(hash_name(name.as_bytes()), value.as_bytes());
        index.find_field(table, name.as_bytes(), value.as_bytes(), hash)
    }

    #[test]
    fn dynamic_entries_are_found_at_their_current_index() {
        let mut table = DynamicTable::new(4096);
        let mut index = DynamicIndex::default();
        insert(&mut table, &mut index, "x-a", "1");
        insert(&mut table, &mut index, "x-b", "2");
        insert(&mut table, &mut index, "x-a", "3");
        assert_eq!(find_field(&table, &index, "x-a", "3"), Some(0));
        assert_eq!(find_field(&table, &index, "x-b", "2"), Some(1));
        assert_eq!(find_field(&table, &index, "x-a", "1"), Some(2));
        assert_eq!(find_field(&table, &index, "x-a", "2"), None);
        let (i, entry) = index.find_name(&table, b"x-a", hash_name(b"x-a")).unwrap();
        assert_eq!((i, &entry.value[..]), (0, &b"3"[..]));
        assert!(index.find_name(&table, b"x-c", hash_name(b"x-c")).is_none());
    }

    #[test]
    fn evicted_entries_are_not_found() {
        // Room for two entries of 34 octets.
        let mut table = DynamicTable::new(70);
        let mut index = DynamicIndex::default();
        insert(&mut table, &mut index, "a", "1");
        insert(&mut table, &mut index, "b", "2");
        insert(&mut table, &mut index, "c", "3");
        assert_eq!(find_field(&table, &index, "a", "1"), None);
        assert!(index.find_name(&table, b"a", hash_name(b"a")).is_none());
        assert_eq!(find_field(&table, &index, "b", "2"), Some(1));
        table.set_capacity(0);
        index.evicted(table.len());
        assert!(index.by_name.is_empty() && index.by_field.is_empty());
    }

    #[test]
    fn numbers_wrapping_around_stay_correct() {
        let mut table = DynamicTable::new(200);
        let mut index = DynamicIndex::default();
        for i in 0..70_000u32 {
            insert(&mut table, &mut index, "x-n", &(i % 9).to_string());
        }
        for v in 0..9 {
            let v = v.to_string();
            let expected = (0..table.len()).find(|&i| table.get(i).unwrap().value == v);
            assert_eq!(find_field(&table, &index, "x-n", &v), expected, "value {v}");
        }
        assert_eq!(index.by_field.len(), table.len());
    }
}
