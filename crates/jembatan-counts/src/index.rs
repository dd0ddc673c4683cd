//! The in-memory index: one row per stored placement (the columns counts filter and group by),
//! a compressed bitmap of rows per attribute value, and each worker's pseudo-random key.
//!
//! A filter is an intersection of bitmaps; a grouped count one pass over the rows that match,
//! adding each distinct worker once per cell. Most workers have one placement: the rows of
//! workers with several are kept in a bitmap of their own (`shared`), counted apart and
//! de-duplicated, so the common case costs one array read per row.
//!
//! Rows live in dense slots (freed slots are reused), so bitmaps stay compact whatever the
//! database's row ids; two hash tables of slot numbers find a row by its id and a worker's
//! first row by the worker's key.

use std::collections::HashMap;

use hashbrown::HashTable;
use jembatan_store::{CountedPlacement, Dimension, PlacementChanges};
use roaring::RoaringBitmap;

use crate::cell_keys::CellKeys;
use crate::filter::CountFilter;

/// What the index keeps of one placement.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// The database's row id.
    id: i64,
    /// The worker's key: identifies the worker, and its sum over a cell's workers keys the
    /// cell's noise.
    worker: u64,
    month: u32,
    regency: u16,
    province: u16,
    occupation: u16,
    country: u16,
    status: u16,
    sex: u16,
}

/// The values seen of one attribute: their names, ids, and a bitmap of the slots holding each.
#[derive(Debug, Default)]
struct Values {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
    slots: Vec<RoaringBitmap>,
}

impl Values {
    /// The id of `name`, given one if new.
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        self.slots.push(RoaringBitmap::new());
        id
    }

    fn get(&self, name: &str) -> Option<&RoaringBitmap> {
        self.ids.get(name).map(|&id| &self.slots[id as usize])
    }

    fn add(&mut self, name: &str, slot: u32) -> u32 {
        let id = self.intern(name);
        self.slots[id as usize].insert(slot);
        id
    }

    fn remove(&mut self, id: u32, slot: u32) {
        if let Some(bitmap) = self.slots.get_mut(id as usize) {
            bitmap.remove(slot);
        }
    }

    /// Removes `slot` from every value (for attributes a row holds several of).
    fn remove_everywhere(&mut self, slot: u32) {
        for bitmap in &mut self.slots {
            bitmap.remove(slot);
        }
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }

    fn bytes(&self) -> usize {
        self.slots
            .iter()
            .map(RoaringBitmap::serialized_size)
            .sum::<usize>()
            + self.names.iter().map(|n| 2 * (n.len() + 40)).sum::<usize>()
    }
}

/// The exact count of one cell, before perturbation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactCell {
    /// The cell's value for each dimension asked for.
    pub keys: Vec<String>,
    /// Distinct workers.
    pub workers: u64,
    /// The cell key: a keyed hash of the sum of its workers' keys, the same for the same set
    /// of workers however it is asked for.
    pub cell_key: u64,
}

/// Exact counts of a filter, grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactCounts {
    /// Non-empty cells, by keys.
    pub cells: Vec<ExactCell>,
    /// The whole filter as one cell (no keys).
    pub total: ExactCell,
    /// The latest change reflected.
    pub change: Option<u64>,
    /// Erasures by this process at changes after `change`, reflected too (their workers are
    /// gone from the counts), in ascending order.
    pub erased_ahead: Vec<u64>,
}

/// Adds workers to a cell: their number and the sum of their keys.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    workers: u64,
    sum: u64,
}

impl Tally {
    fn add(&mut self, worker: u64) {
        self.workers += 1;
        self.sum = self.sum.wrapping_add(worker);
    }
}

/// Digits of an ISCO-08 unit group: a shorter occupation filter is a group of them.
const UNIT_GROUP_DIGITS: usize = 4;

/// Slots gathered before their rows are read.
const ROW_CHUNK: usize = 4096;

/// Cells up to this many (the product of the dimensions' values) are tallied in an array.
const DENSE_CELLS: u64 = 1 << 16;

/// The availability index. See the module docs.
#[derive(Debug)]
pub struct Index {
    keys: CellKeys,
    rows: Vec<Row>,
    free: Vec<u32>,
    live: RoaringBitmap,
    by_id: HashTable<u32>,
    by_worker: HashTable<u32>,
    /// Every slot of each worker with more than one.
    shared_workers: HashMap<u64, Vec<u32>>,
    shared: RoaringBitmap,
    province: Values,
    regency: Values,
    occupation: Values,
    country: Values,
    month: Values,
    status: Values,
    sex: Values,
    wants: RoaringBitmap,
    certificate: Values,
    language: Values,
    chapter: Values,
    through: Option<u64>,
    /// Counts up with every change applied: answers of one version stay true.
    version: u64,
    /// Workers erased in this process at a change the index has not followed yet: rows of
    /// theirs read before the erasure are not brought back.
    erased_at: HashMap<u64, u64>,
}

fn id_hash(id: i64) -> u64 {
    (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// An id stored in 16 bits: the attributes stored so hold codes the server validated against
/// sets far smaller than 65,536 (514 regencies, 436 unit groups, 249 countries).
fn small(id: u32) -> u16 {
    debug_assert!(
        id < u32::from(u16::MAX),
        "a validated code set outgrew 16 bits"
    );
    u16::try_from(id).unwrap_or(u16::MAX)
}

impl Index {
    /// An empty index whose worker and cell keys derive from `secret`.
    pub fn new(secret: &[u8; 32]) -> Self {
        Self {
            keys: CellKeys::new(secret),
            rows: Vec::new(),
            free: Vec::new(),
            live: RoaringBitmap::new(),
            by_id: HashTable::new(),
            by_worker: HashTable::new(),
            shared_workers: HashMap::new(),
            shared: RoaringBitmap::new(),
            province: Values::default(),
            regency: Values::default(),
            occupation: Values::default(),
            country: Values::default(),
            month: Values::default(),
            status: Values::default(),
            sex: Values::default(),
            wants: RoaringBitmap::new(),
            certificate: Values::default(),
            language: Values::default(),
            chapter: Values::default(),
            through: None,
            version: 0,
            erased_at: HashMap::new(),
        }
    }

    /// The latest change reflected.
    pub fn through(&self) -> Option<u64> {
        self.through
    }

    /// A number that changes whenever what the index counts may have.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Placements indexed.
    pub fn placements(&self) -> u64 {
        self.live.len()
    }

    /// Distinct workers indexed.
    pub fn workers(&self) -> u64 {
        self.by_worker.len() as u64
    }

    /// Gives back memory grown into while loading.
    pub fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        self.free.shrink_to_fit();
        let rows = &self.rows;
        self.by_id.shrink_to(0, |&s| id_hash(rows[s as usize].id));
        self.by_worker.shrink_to(0, |&s| rows[s as usize].worker);
    }

    /// An estimate of the index's heap memory, in bytes.
    pub fn heap_bytes(&self) -> usize {
        let tables = (self.by_id.capacity() + self.by_worker.capacity()) * 5;
        let shared = self.shared_workers.capacity() * 48
            + self
                .shared_workers
                .values()
                .map(|v| v.capacity() * 4)
                .sum::<usize>();
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.free.capacity() * 4
            + tables
            + shared
            + self.live.serialized_size()
            + self.shared.serialized_size()
            + self.wants.serialized_size()
            + [
                &self.province,
                &self.regency,
                &self.occupation,
                &self.country,
                &self.month,
                &self.status,
                &self.sex,
                &self.certificate,
                &self.language,
                &self.chapter,
            ]
            .iter()
            .map(|values| values.bytes())
            .sum::<usize>()
    }

    /// The key of the worker with `subject_key`.
    fn worker_of(&self, subject_key: &str) -> u64 {
        self.keys.worker(subject_key)
    }

    fn cell_key_of(&self, sum: u64) -> u64 {
        self.keys.cell(sum)
    }

    /// Applies changes read after [`Index::through`]: erasures first, then placements as
    /// they are now.
    pub fn apply(&mut self, changes: &PlacementChanges) {
        if !changes.erased.is_empty() || !changes.placements.is_empty() {
            self.version += 1;
        }
        for subject_key in &changes.erased {
            let worker = self.worker_of(subject_key);
            self.remove_worker(worker);
        }
        for placement in &changes.placements {
            let worker = self.worker_of(&placement.subject_key);
            let stale = self
                .erased_at
                .get(&worker)
                .is_some_and(|&at| u64::try_from(placement.change_seq).unwrap_or(0) <= at);
            if stale {
                self.remove_id(placement.id);
            } else {
                self.upsert(placement, worker);
            }
        }
        if let Some(through) = changes.through
            && self.through.is_none_or(|seen| through > seen)
        {
            self.through = Some(through);
            self.erased_at.retain(|_, at| *at > through);
        }
    }

    /// Removes the worker with `subject_key` at once, erased at `change`.
    pub fn erase(&mut self, subject_key: &str, change: u64) {
        self.version += 1;
        let worker = self.worker_of(subject_key);
        self.remove_worker(worker);
        if self.through.is_none_or(|seen| seen < change) {
            self.erased_at.insert(worker, change);
        }
    }

    fn slot_of_id(&self, id: i64) -> Option<u32> {
        self.by_id
            .find(id_hash(id), |&slot| self.rows[slot as usize].id == id)
            .copied()
    }

    fn remove_id(&mut self, id: i64) {
        if let Some(slot) = self.slot_of_id(id) {
            self.remove_slot(slot);
        }
    }

    fn remove_worker(&mut self, worker: u64) {
        let slots: Vec<u32> = match self.shared_workers.get(&worker) {
            Some(slots) => slots.clone(),
            None => self
                .by_worker
                .find(worker, |&slot| self.rows[slot as usize].worker == worker)
                .copied()
                .into_iter()
                .collect(),
        };
        for slot in slots {
            self.remove_slot(slot);
        }
    }

    fn upsert(&mut self, placement: &CountedPlacement, worker: u64) {
        if let Some(slot) = self.slot_of_id(placement.id) {
            self.remove_slot(slot);
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.rows.push(Row::default());
                u32::try_from(self.rows.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let month = placement
            .return_date
            .as_deref()
            .and_then(|date| date.get(..7))
            .unwrap_or("");
        let row = Row {
            id: placement.id,
            worker,
            month: self.month.add(month, slot),
            regency: small(self.regency.add(&placement.origin_regency, slot)),
            province: small(self.province.add(&placement.origin_province, slot)),
            occupation: small(self.occupation.add(&placement.occupation_code, slot)),
            country: small(self.country.add(&placement.destination_country, slot)),
            status: small(self.status.add(&placement.status, slot)),
            sex: small(self.sex.add(&placement.sex, slot)),
        };
        self.rows[slot as usize] = row;
        if placement.wants_to_export {
            self.wants.insert(slot);
        }
        for code in placement.certificate_schemes() {
            self.certificate.add(code, slot);
        }
        for code in placement.languages() {
            self.language.add(code, slot);
        }
        for code in placement.hs_chapters() {
            self.chapter.add(code, slot);
        }
        self.live.insert(slot);
        let rows = &self.rows;
        self.by_id.insert_unique(id_hash(placement.id), slot, |&s| {
            id_hash(rows[s as usize].id)
        });
        self.add_to_worker(worker, slot);
    }

    fn add_to_worker(&mut self, worker: u64, slot: u32) {
        if let Some(slots) = self.shared_workers.get_mut(&worker) {
            slots.push(slot);
            self.shared.insert(slot);
            return;
        }
        let rows = &self.rows;
        let first = self
            .by_worker
            .find(worker, |&s| rows[s as usize].worker == worker)
            .copied();
        match first {
            None => {
                self.by_worker
                    .insert_unique(worker, slot, |&s| rows[s as usize].worker);
            }
            Some(first) => {
                self.shared_workers.insert(worker, vec![first, slot]);
                self.shared.insert(first);
                self.shared.insert(slot);
            }
        }
    }

    fn remove_slot(&mut self, slot: u32) {
        let row = self.rows[slot as usize];
        self.month.remove(row.month, slot);
        self.regency.remove(u32::from(row.regency), slot);
        self.province.remove(u32::from(row.province), slot);
        self.occupation.remove(u32::from(row.occupation), slot);
        self.country.remove(u32::from(row.country), slot);
        self.status.remove(u32::from(row.status), slot);
        self.sex.remove(u32::from(row.sex), slot);
        self.wants.remove(slot);
        self.certificate.remove_everywhere(slot);
        self.language.remove_everywhere(slot);
        self.chapter.remove_everywhere(slot);
        self.live.remove(slot);
        let rows = &self.rows;
        if let Ok(entry) = self
            .by_id
            .find_entry(id_hash(row.id), |&s| rows[s as usize].id == row.id)
        {
            entry.remove();
        }
        self.remove_from_worker(row.worker, slot);
        self.free.push(slot);
    }

    fn remove_from_worker(&mut self, worker: u64, slot: u32) {
        let rows = &self.rows;
        if let Ok(entry) = self
            .by_worker
            .find_entry(worker, |&s| rows[s as usize].worker == worker)
        {
            entry.remove();
        }
        let remaining = match self.shared_workers.get_mut(&worker) {
            Some(slots) => {
                slots.retain(|&s| s != slot);
                self.shared.remove(slot);
                slots.clone()
            }
            None => return,
        };
        if remaining.len() == 1 {
            self.shared_workers.remove(&worker);
            self.shared.remove(remaining[0]);
        }
        if let Some(&first) = remaining.first() {
            let rows = &self.rows;
            self.by_worker
                .insert_unique(worker, first, |&s| rows[s as usize].worker);
        }
    }

    /// The rows matching `filter`.
    fn matching(&self, filter: &CountFilter) -> RoaringBitmap {
        let empty = RoaringBitmap::new();
        let mut owned: Vec<RoaringBitmap> = Vec::new();
        if let Some(prefix) = &filter.occupation
            && prefix.len() < UNIT_GROUP_DIGITS
        {
            let mut union = RoaringBitmap::new();
            for (name, bitmap) in self.occupation.names.iter().zip(&self.occupation.slots) {
                if name.starts_with(prefix.as_str()) {
                    union |= bitmap;
                }
            }
            owned.push(union);
        }
        if !filter.return_months.is_empty() {
            let mut union = RoaringBitmap::new();
            for month in &filter.return_months {
                if let Some(bitmap) = self.month.get(month) {
                    union |= bitmap;
                }
            }
            owned.push(union);
        }
        let mut sets: Vec<&RoaringBitmap> = owned.iter().collect();
        let single: [(&Values, &Option<String>); 7] = [
            (&self.province, &filter.province),
            (&self.regency, &filter.regency),
            (&self.country, &filter.country),
            (&self.status, &filter.status),
            (&self.language, &filter.language),
            (&self.certificate, &filter.certificate_scheme),
            (&self.chapter, &filter.hs_chapter),
        ];
        for (values, wanted) in single {
            if let Some(wanted) = wanted {
                sets.push(values.get(wanted).unwrap_or(&empty));
            }
        }
        if let Some(code) = &filter.occupation
            && code.len() >= UNIT_GROUP_DIGITS
        {
            sets.push(self.occupation.get(code).unwrap_or(&empty));
        }
        if filter.wants_to_export {
            sets.push(&self.wants);
        }
        sets.sort_by_key(|set| set.len());
        let Some((first, rest)) = sets.split_first() else {
            return self.live.clone();
        };
        let mut matching = (*first).clone();
        for set in rest {
            matching &= *set;
        }
        matching
    }

    /// The id of `row`'s value of `dimension`.
    fn code(&self, row: &Row, dimension: Dimension) -> u32 {
        match dimension {
            Dimension::Province => u32::from(row.province),
            Dimension::Regency => u32::from(row.regency),
            Dimension::Occupation => u32::from(row.occupation),
            Dimension::DestinationCountry => u32::from(row.country),
            Dimension::ReturnMonth => row.month,
            Dimension::Sex => u32::from(row.sex),
        }
    }

    fn values(&self, dimension: Dimension) -> &Values {
        match dimension {
            Dimension::Province => &self.province,
            Dimension::Regency => &self.regency,
            Dimension::Occupation => &self.occupation,
            Dimension::DestinationCountry => &self.country,
            Dimension::ReturnMonth => &self.month,
            Dimension::Sex => &self.sex,
        }
    }

    /// Distinct workers matching `filter`, grouped by `dimensions` (in order), exactly.
    pub fn count(&self, filter: &CountFilter, dimensions: &[Dimension]) -> ExactCounts {
        let matching = self.matching(filter);
        let (single, shared) = if self.shared.is_empty() {
            (matching, RoaringBitmap::new())
        } else {
            let shared = &matching & &self.shared;
            (matching - &self.shared, shared)
        };
        let radices: Vec<u64> = dimensions
            .iter()
            .map(|&d| self.values(d).names.len().max(1) as u64)
            .collect();
        let cells: u64 = radices.iter().product();
        let cell_of = |row: &Row| -> u64 {
            dimensions.iter().zip(&radices).fold(0, |at, (&d, &radix)| {
                at * radix + u64::from(self.code(row, d))
            })
        };
        let mut total = Tally::default();
        let mut tallies: Vec<(u64, Tally)> = if cells <= DENSE_CELLS {
            let mut dense = vec![Tally::default(); cells as usize];
            self.for_rows(&single, |row| {
                dense[cell_of(row) as usize].add(row.worker);
                total.add(row.worker);
            });
            dense
                .into_iter()
                .enumerate()
                .filter(|(_, tally)| tally.workers > 0)
                .map(|(cell, tally)| (cell as u64, tally))
                .collect()
        } else {
            let mut sparse: HashMap<u64, Tally> = HashMap::new();
            self.for_rows(&single, |row| {
                sparse.entry(cell_of(row)).or_default().add(row.worker);
                total.add(row.worker);
            });
            sparse.into_iter().collect()
        };
        if !shared.is_empty() {
            // Workers with several matching rows count once per cell and once in the total.
            let mut pairs: Vec<(u64, u64)> = shared
                .iter()
                .map(|slot| {
                    let row = &self.rows[slot as usize];
                    (cell_of(row), row.worker)
                })
                .collect();
            let mut workers: Vec<u64> = pairs.iter().map(|&(_, worker)| worker).collect();
            workers.sort_unstable();
            workers.dedup();
            for worker in workers {
                total.add(worker);
            }
            pairs.sort_unstable();
            pairs.dedup();
            let mut extra: HashMap<u64, Tally> = HashMap::new();
            for (cell, worker) in pairs {
                extra.entry(cell).or_default().add(worker);
            }
            for (cell, tally) in &mut tallies {
                if let Some(more) = extra.remove(cell) {
                    tally.workers += more.workers;
                    tally.sum = tally.sum.wrapping_add(more.sum);
                }
            }
            tallies.extend(extra);
        }
        let mut cells: Vec<ExactCell> = tallies
            .into_iter()
            .map(|(cell, tally)| ExactCell {
                keys: self.keys_of(cell, dimensions, &radices),
                workers: tally.workers,
                cell_key: self.cell_key_of(tally.sum),
            })
            .collect();
        cells.sort_by(|a, b| a.keys.cmp(&b.keys));
        ExactCounts {
            cells,
            total: ExactCell {
                keys: Vec::new(),
                workers: total.workers,
                cell_key: self.cell_key_of(total.sum),
            },
            change: self.through,
            erased_ahead: {
                let mut ahead: Vec<u64> = self.erased_at.values().copied().collect();
                ahead.sort_unstable();
                ahead
            },
        }
    }

    /// Calls `each` with the row of every slot of `slots`, a chunk of slots at a time: in a
    /// large index matching rows lie far apart and each read misses the cache, and reads from
    /// a plain list of slots overlap where reads between the bitmap's iterator calls did not.
    fn for_rows(&self, slots: &RoaringBitmap, mut each: impl FnMut(&Row)) {
        let mut chunk: Vec<u32> = Vec::with_capacity(ROW_CHUNK);
        let mut iter = slots.iter();
        loop {
            chunk.clear();
            chunk.extend(iter.by_ref().take(ROW_CHUNK));
            if chunk.is_empty() {
                return;
            }
            for &slot in &chunk {
                each(&self.rows[slot as usize]);
            }
        }
    }

    fn keys_of(&self, mut cell: u64, dimensions: &[Dimension], radices: &[u64]) -> Vec<String> {
        let mut keys = vec![String::new(); dimensions.len()];
        for (i, (&dimension, &radix)) in dimensions.iter().zip(radices).enumerate().rev() {
            let id = u32::try_from(cell % radix).unwrap_or(u32::MAX);
            keys[i] = self.values(dimension).name(id).to_owned();
            cell /= radix;
        }
        keys
    }
}
