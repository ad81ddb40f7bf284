//! The on-disk index: schema, opening (with wipe-and-recreate on incompatibility), and writes.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use xietong_domain::{Details, Listing, ListingId, ReadScope, Reference, Status};

use crate::SearchError;
use crate::analysis::{BIGRAM_ANALYZER, JIEBA_ANALYZER, bigram_analyzer, jieba_analyzer};
use crate::embed::{Embedder, VectorStore};
use crate::infer::infer_disciplines;
use crate::scope::Scoped;

/// Bumped whenever the schema or the analysis changes; a mismatch wipes the index on open.
const SCHEMA_VERSION: &str = "xietong-search-4";
const VERSION_FILE: &str = "xietong-search.version";
const VECTORS_FILE: &str = "vectors.jsonl";
/// Batches up to this size infer missing disciplines before their one commit...
const UPFRONT_INFERENCE_MAX_BATCH: usize = 64;
/// ...when the index already holds this many listings to infer from, or when no listing of the
/// batch has a discipline (then the batch has nothing to teach its own listings).
const UPFRONT_INFERENCE_MIN_DOCS: u64 = 1_000;
/// Memory budget of the single indexing thread.
const WRITER_MEMORY_BYTES: usize = 50_000_000;

/// Field handles of the schema.
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub id_rank: Field,
    pub kind: Field,
    pub title_j: Field,
    pub title_b: Field,
    pub body_j: Field,
    pub body_b: Field,
    pub discipline: Field,
    /// Disciplines inferred from labelled neighbours, for listings without explicit ones.
    pub discipline_inferred: Field,
    pub region: Field,
    pub industry: Field,
    pub section: Field,
    pub trl: Field,
    /// Price in 万元 for sorting (see `SearchSort::Price`).
    pub price: Field,
    pub availability: Field,
    pub facility_type: Field,
    pub status: Field,
    pub visibility: Field,
    pub owner_org: Field,
    pub updated_at: Field,
    pub facets: Field,
    pub json: Field,
}

fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analysed = |name: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(name).set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED | FAST),
        id_rank: builder.add_u64_field("id_rank", FAST),
        kind: builder.add_text_field("kind", STRING | FAST),
        title_j: builder.add_text_field("title_j", analysed(JIEBA_ANALYZER)),
        title_b: builder.add_text_field("title_b", analysed(BIGRAM_ANALYZER)),
        body_j: builder.add_text_field("body_j", analysed(JIEBA_ANALYZER)),
        body_b: builder.add_text_field("body_b", analysed(BIGRAM_ANALYZER)),
        discipline: builder.add_text_field("discipline", STRING | FAST),
        discipline_inferred: builder.add_text_field("discipline_inferred", STRING | FAST),
        region: builder.add_text_field("region", STRING | FAST),
        industry: builder.add_text_field("industry", STRING | FAST),
        section: builder.add_text_field("section", STRING | FAST),
        trl: builder.add_u64_field("trl", INDEXED | FAST),
        price: builder.add_f64_field("price", FAST),
        availability: builder.add_text_field("availability", STRING | FAST),
        facility_type: builder.add_text_field("facility_type", STRING | FAST),
        status: builder.add_text_field("status", STRING | FAST),
        visibility: builder.add_text_field("visibility", STRING | FAST),
        owner_org: builder.add_text_field("owner_org", STRING | FAST),
        updated_at: builder.add_i64_field("updated_at", INDEXED | FAST),
        facets: builder.add_facet_field("facets", FacetOptions::default()),
        json: builder.add_text_field("json", STORED),
    };
    (builder.build(), fields)
}

/// A full-text index of published listings in one directory.
///
/// One `IndexWriter` sits behind a mutex; the reader is reloaded right after every commit, so a
/// write is searchable as soon as [`SearchIndex::apply`] returns.
pub struct SearchIndex {
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    /// `None` after a failed write whose writer could not be replaced yet (the next write
    /// tries again).
    writer: Mutex<Option<IndexWriter>>,
    index: Index,
    applied_seq: AtomicU64,
    pub(crate) embedder: RwLock<Option<Arc<dyn Embedder>>>,
    pub(crate) vectors: RwLock<VectorStore>,
    /// Read scopes' statistics of the current searcher generation.
    pub(crate) scope_cache: crate::scope::ScopeCache,
    dir: PathBuf,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing. When the directory holds an index of
    /// another schema or format, it is wiped and recreated, and [`SearchIndex::applied_seq`]
    /// returns 0 so the caller knows a full reindex is needed.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
        check_writable(dir)?;
        let (schema, fields) = build_schema();
        let index = match open_compatible(dir, &schema) {
            Some(index) => index,
            None => {
                wipe_dir(dir)?;
                let index = Index::create_in_dir(dir, schema)?;
                fs::write(dir.join(VERSION_FILE), SCHEMA_VERSION).map_err(|e| SearchError::io(dir, e))?;
                index
            }
        };
        Self::from_index(index, dir, fields)
    }

    /// Opens an index kept in `directory` (an empty one is initialised), with `dir` for the
    /// vector sidecar file. For tests and drills that inject faults into the index's files,
    /// e.g. a directory whose writes fail like a full disk.
    pub fn open_in_directory(directory: impl tantivy::Directory, dir: &Path) -> Result<SearchIndex, SearchError> {
        let (schema, fields) = build_schema();
        let index = Index::open_or_create(directory, schema)?;
        Self::from_index(index, dir, fields)
    }

    fn from_index(index: Index, dir: &Path, fields: Fields) -> Result<SearchIndex, SearchError> {
        index.tokenizers().register(JIEBA_ANALYZER, jieba_analyzer());
        index.tokenizers().register(BIGRAM_ANALYZER, bigram_analyzer());
        let writer = new_writer(&index)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let applied_seq =
            index.load_metas()?.payload.and_then(|payload| payload.trim().parse::<u64>().ok()).unwrap_or(0);
        let vectors = VectorStore::load(&dir.join(VECTORS_FILE))?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            writer: Mutex::new(Some(writer)),
            applied_seq: AtomicU64::new(applied_seq),
            embedder: RwLock::new(None),
            vectors: RwLock::new(vectors),
            scope_cache: crate::scope::ScopeCache::default(),
            dir: dir.to_path_buf(),
        })
    }

    /// Configures an embedder: listings written from now on get a vector, and match/search
    /// scores are fused with the cosine similarity. Vectors of listings indexed before stay
    /// missing until they are written again (reindex to fill them).
    pub fn set_embedder(&self, embedder: Option<Arc<dyn Embedder>>) {
        *self.embedder.write().expect("embedder lock") = embedder;
    }

    /// Indexes the published listings of `upserts` (others are removed), deletes `deletes`,
    /// commits, and records `seq` as the last applied change sequence.
    pub fn apply(&self, upserts: &[Listing], deletes: &[ListingId], seq: u64) -> Result<(), SearchError> {
        let embedder = self.embedder.read().expect("embedder lock").clone();
        let published: Vec<&Listing> = upserts.iter().filter(|l| l.body.status == Status::Published).collect();
        let new_vectors = match &embedder {
            Some(embedder) if !published.is_empty() => {
                let texts: Vec<String> = published.iter().map(|l| embedding_text(l)).collect();
                Some(embedder.embed(&texts)?)
            }
            _ => None,
        };
        let is_unlabeled = |l: &&Listing| l.body.disciplines.iter().all(|d: &String| d.trim().is_empty());
        // Listings without a discipline get one inferred from their labelled neighbours (see
        // `infer`). A few writes to a populated index infer from it as it is, so one commit
        // suffices (also in a young index when the batch holds no labelled listing, e.g. API
        // writes); a large batch, or labelled listings arriving in a young index, is committed
        // first, so that its listings are among the neighbours, and the inferred ones are
        // written in a second commit.
        let batch_teaches = published.iter().any(|l| !is_unlabeled(l));
        let upfront = published.len() <= UPFRONT_INFERENCE_MAX_BATCH
            && (!batch_teaches || self.reader.searcher().num_docs() >= UPFRONT_INFERENCE_MIN_DOCS);
        let mut inferred_upfront: HashMap<ListingId, Vec<String>> = HashMap::new();
        if upfront {
            let searcher = self.reader.searcher();
            let public = Scoped::new(&searcher, &self.fields, Some(&ReadScope::anonymous()))?;
            for listing in published.iter().copied().filter(is_unlabeled) {
                inferred_upfront.insert(listing.id, infer_disciplines(&public, &self.fields, listing)?);
            }
        }
        self.write(
            |writer| {
                for id in deletes {
                    writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
                }
                for listing in upserts {
                    writer.delete_term(Term::from_field_text(self.fields.id, &listing.id.to_string()));
                }
                for listing in &published {
                    let inferred = inferred_upfront.get(&listing.id).map_or(&[][..], Vec::as_slice);
                    writer.add_document(listing_document(&self.fields, listing, inferred)?)?;
                }
                Ok(())
            },
            seq,
        )?;
        let unlabeled: Vec<&Listing> =
            if upfront { Vec::new() } else { published.iter().copied().filter(is_unlabeled).collect() };
        if !unlabeled.is_empty() {
            let searcher = self.reader.searcher();
            let public = Scoped::new(&searcher, &self.fields, Some(&ReadScope::anonymous()))?;
            let mut inferred_docs = Vec::new();
            for listing in unlabeled {
                let inferred = infer_disciplines(&public, &self.fields, listing)?;
                if !inferred.is_empty() {
                    inferred_docs.push((listing, inferred));
                }
            }
            if !inferred_docs.is_empty() {
                self.write(
                    |writer| {
                        for (listing, inferred) in &inferred_docs {
                            writer.delete_term(Term::from_field_text(self.fields.id, &listing.id.to_string()));
                            writer.add_document(listing_document(&self.fields, listing, inferred)?)?;
                        }
                        Ok(())
                    },
                    seq,
                )?;
            }
        }

        let mut vectors = self.vectors.write().expect("vectors lock");
        let mut removed: Vec<ListingId> = deletes.to_vec();
        removed.extend(upserts.iter().filter(|l| l.body.status != Status::Published).map(|l| l.id));
        let mut added: HashMap<ListingId, Vec<f32>> = HashMap::new();
        if let Some(new_vectors) = new_vectors {
            for (listing, vector) in published.iter().zip(new_vectors) {
                added.insert(listing.id, vector);
            }
        }
        vectors.apply(&self.dir.join(VECTORS_FILE), added, &removed)?;
        Ok(())
    }

    /// Runs `changes` on the writer and commits them with `seq` as the applied sequence. The
    /// sequence advances only when the commit succeeded; on any failure the uncommitted changes
    /// are dropped and the writer is replaced (a writer whose indexing thread failed, e.g. on a
    /// full disk, would otherwise go on accepting documents it never writes).
    fn write(
        &self,
        changes: impl FnOnce(&mut IndexWriter) -> Result<(), SearchError>,
        seq: u64,
    ) -> Result<(), SearchError> {
        let mut slot = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        if slot.is_none() {
            *slot = Some(new_writer(&self.index)?);
        }
        let writer = slot.as_mut().expect("writer was just set");
        let result = changes(writer).and_then(|()| {
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&seq.to_string());
            prepared.commit()?;
            Ok(())
        });
        match result {
            Ok(()) => {
                self.applied_seq.store(seq, Ordering::SeqCst);
                // The commit is durable; a failed reload shows on the next one.
                self.reader.reload()?;
                Ok(())
            }
            Err(error) => {
                // Drop the failed writer (its lock goes with it) and start a fresh one from the
                // last commit; if that fails too, the next write tries again.
                drop(slot.take());
                *slot = new_writer(&self.index).ok();
                Err(error)
            }
        }
    }

    /// The change sequence stored with the last commit; 0 for a new or recreated index.
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq.load(Ordering::SeqCst)
    }

    /// Removes every document and resets the applied sequence to 0.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.write(
            |writer| {
                writer.delete_all_documents()?;
                Ok(())
            },
            0,
        )?;
        self.vectors.write().expect("vectors lock").clear(&self.dir.join(VECTORS_FILE))?;
        Ok(())
    }

    /// Number of indexed (published) listings per kind, deleted documents excluded.
    pub fn doc_counts_by_kind(&self) -> Result<std::collections::BTreeMap<&'static str, u64>, SearchError> {
        let searcher = self.reader.searcher();
        let mut counts = std::collections::BTreeMap::new();
        for kind in xietong_domain::Kind::ALL {
            let query = tantivy::query::TermQuery::new(
                Term::from_field_text(self.fields.kind, kind.as_str()),
                IndexRecordOption::Basic,
            );
            let count = searcher.search(&query, &tantivy::collector::Count)?;
            counts.insert(kind.as_str(), count as u64);
        }
        Ok(counts)
    }

    /// Number of indexed (published) listings.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

fn new_writer(index: &Index) -> Result<IndexWriter, SearchError> {
    Ok(index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?)
}

/// Fails early, naming the cause, when the index directory cannot be written (a read-only
/// mount, wrong owner): otherwise the index's lock file reports it as another writer.
fn check_writable(dir: &Path) -> Result<(), SearchError> {
    let probe = dir.join(".xietong-write-check");
    fs::write(&probe, b"ok")
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|source| SearchError::NotWritable { path: dir.display().to_string(), source })
}

fn open_compatible(dir: &Path, schema: &Schema) -> Option<Index> {
    let version = fs::read_to_string(dir.join(VERSION_FILE)).ok()?;
    if version.trim() != SCHEMA_VERSION {
        return None;
    }
    let index = Index::open_in_dir(dir).ok()?;
    let same_schema = serde_json::to_string(&index.schema()).ok()? == serde_json::to_string(schema).ok()?;
    same_schema.then_some(index)
}

fn wipe_dir(dir: &Path) -> Result<(), SearchError> {
    let entries = fs::read_dir(dir).map_err(|e| SearchError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| SearchError::io(dir, e))?.path();
        let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        removed.map_err(|e| SearchError::io(&path, e))?;
    }
    Ok(())
}

/// Text embedded for a listing: title, keywords and the free text.
pub(crate) fn embedding_text(listing: &Listing) -> String {
    format!("{}\n{}\n{}", listing.body.title, listing.body.keywords.join("、"), listing.body.searchable_text())
}

/// Ascending ids rank first on ties: the larger `id_rank`, the smaller the id.
pub(crate) fn id_rank(id: &ListingId) -> u64 {
    let bytes = id.0.as_bytes();
    let prefix = u64::from_be_bytes(bytes[..8].try_into().expect("uuid has 16 bytes"));
    u64::MAX - prefix
}

/// All region codes a listing is located in (its own and its enterprise sites').
pub(crate) fn listing_regions(listing: &Listing) -> Vec<String> {
    let mut codes = listing.body.region_codes.clone();
    if let Details::Enterprise(enterprise) = &listing.body.details {
        codes.extend(enterprise.sites.iter().map(|s| s.region_code.clone()));
    }
    codes.sort();
    codes.dedup();
    codes
}

/// The document of `listing`; `inferred` are disciplines inferred for it (empty when it has
/// explicit ones).
fn listing_document(fields: &Fields, listing: &Listing, inferred: &[String]) -> Result<TantivyDocument, SearchError> {
    let reference = Reference::get();
    let body = &listing.body;
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, listing.id.to_string());
    doc.add_u64(fields.id_rank, id_rank(&listing.id));
    doc.add_text(fields.kind, listing.kind().as_str());
    // Keywords are curated key phrases, so they are weighted like the title.
    let title_text = format!("{}\n{}", body.title, body.keywords.join("\n"));
    doc.add_text(fields.title_j, &title_text);
    doc.add_text(fields.title_b, &title_text);
    let body_text = body.searchable_text();
    doc.add_text(fields.body_j, &body_text);
    doc.add_text(fields.body_b, &body_text);
    for discipline in &body.disciplines {
        doc.add_text(fields.discipline, discipline.trim());
    }
    for discipline in inferred {
        doc.add_text(fields.discipline_inferred, discipline);
    }
    let mut region_codes: Vec<String> = Vec::new();
    for code in listing_regions(listing) {
        region_codes.extend(reference.region_ancestry(&code));
        let chain: Vec<String> = reference.region_chain(&code).iter().rev().map(|r| r.code.clone()).collect();
        if !chain.is_empty() {
            let path: Vec<&str> = std::iter::once("region").chain(chain.iter().map(String::as_str)).collect();
            doc.add_facet(fields.facets, tantivy::schema::Facet::from_path(path));
        }
    }
    region_codes.sort();
    region_codes.dedup();
    for code in &region_codes {
        doc.add_text(fields.region, code);
    }
    let mut industry_codes: Vec<String> = Vec::new();
    let mut sections: Vec<String> = Vec::new();
    for code in &body.industry_codes {
        industry_codes.extend(reference.industry_ancestry(code));
        if let Some(section) = reference.industry_section(code) {
            sections.push(section.code.clone());
        }
    }
    industry_codes.sort();
    industry_codes.dedup();
    sections.sort();
    sections.dedup();
    for code in &industry_codes {
        doc.add_text(fields.industry, code);
    }
    for section in &sections {
        doc.add_text(fields.section, section);
        doc.add_facet(fields.facets, tantivy::schema::Facet::from_path(["section", section.as_str()]));
    }
    doc.add_facet(fields.facets, tantivy::schema::Facet::from_path(["kind", listing.kind().as_str()]));
    if let Some(trl) = body.trl() {
        doc.add_u64(fields.trl, u64::from(trl));
        doc.add_facet(fields.facets, tantivy::schema::Facet::from_path(["trl", trl.to_string().as_str()]));
    }
    let price = match &body.details {
        Details::Achievement(achievement) => achievement.price_min,
        Details::Demand(demand) => demand.budget,
        Details::Scenario(scenario) => scenario.budget,
        Details::Challenge(challenge) => challenge.prize,
        Details::Talent(_) | Details::Facility(_) | Details::Enterprise(_) => None,
    };
    if let Some(price) = price.filter(|p| p.is_finite()) {
        doc.add_f64(fields.price, price);
    }
    match &body.details {
        Details::Talent(talent) => {
            for availability in &talent.availability {
                doc.add_text(fields.availability, availability.as_str());
            }
        }
        Details::Facility(facility) => doc.add_text(fields.facility_type, facility.facility_type.as_str()),
        _ => {}
    }
    doc.add_text(fields.status, body.status.as_str());
    doc.add_text(fields.visibility, body.visibility.as_str());
    if let Some(owner) = &body.owner_org {
        doc.add_text(fields.owner_org, owner);
    }
    doc.add_i64(fields.updated_at, listing.updated_at.unix_timestamp());
    doc.add_text(fields.json, serde_json::to_string(listing)?);
    Ok(doc)
}
