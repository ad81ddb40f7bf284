//! Optional embeddings: an [`Embedder`] trait, an OpenAI-compatible HTTP client, a local static
//! word-vector model, and the sidecar vector store kept beside the index.
//!
//! Without an embedder nothing here runs. With one, every indexed listing gets a vector, and
//! matching adds `weight × cosine(query, listing)` to the score of its candidates.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xietong_domain::ListingId;

use crate::SearchError;
use crate::analysis::{jieba_tokens, normalize};

/// Turns texts into vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// One vector per text, in order.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError>;
    /// The dimension of the vectors.
    fn dim(&self) -> usize;
}

/// Client of an OpenAI-compatible `POST {base_url}/v1/embeddings` endpoint (Ollama, vLLM,
/// text-embeddings-inference, LocalAI …). Plain HTTP only: the crate is built without TLS, so
/// reach an HTTPS service through a local proxy.
pub struct HttpEmbedder {
    url: String,
    model: String,
    api_key: Option<String>,
    dim: usize,
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is never printed.
        f.debug_struct("HttpEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("dim", &self.dim)
            .finish()
    }
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl HttpEmbedder {
    /// `base_url` like `http://127.0.0.1:11434` (a trailing `/v1` is accepted), the model name,
    /// an optional bearer key, and the dimension the model returns.
    pub fn new(base_url: &str, model: &str, api_key: Option<String>, dim: usize) -> HttpEmbedder {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
        HttpEmbedder { url: format!("{base}/v1/embeddings"), model: model.to_string(), api_key, dim, agent }
    }
}

impl Embedder for HttpEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = self.agent.post(&self.url).set("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        let body = serde_json::to_string(&EmbeddingRequest { model: &self.model, input: texts })?;
        let response = request
            .send_string(&body)
            .map_err(|e| SearchError::Embedding(format!("request to {} failed: {e}", self.url)))?;
        let text = response
            .into_string()
            .map_err(|e| SearchError::Embedding(format!("failed to read response of {}: {e}", self.url)))?;
        let mut parsed: EmbeddingResponse = serde_json::from_str(&text)?;
        parsed.data.sort_by_key(|item| item.index.unwrap_or(0));
        if parsed.data.len() != texts.len() {
            return Err(SearchError::Embedding(format!(
                "{} returned {} vectors for {} texts",
                self.url,
                parsed.data.len(),
                texts.len()
            )));
        }
        if let Some(bad) = parsed.data.iter().find(|item| item.embedding.len() != self.dim) {
            return Err(SearchError::Embedding(format!(
                "{} returned a vector of dimension {}, expected {}",
                self.url,
                bad.embedding.len(),
                self.dim
            )));
        }
        Ok(parsed.data.into_iter().map(|item| item.embedding).collect())
    }

    fn dim(&self) -> usize {
        self.dim
    }
}

/// Static word vectors averaged over the jieba tokens of a text.
///
/// The model directory holds `vectors.txt` in the word2vec/fastText text format: an optional
/// header line `<count> <dim>`, then one line per word: the word followed by `dim` numbers,
/// separated by spaces (e.g. the Tencent AI Lab or fastText `cc.zh.300.vec` files, or a smaller
/// cut of them). Words are normalized like the index (NFKC, lower case, simplified). The
/// vector of a text is the L2-normalized mean of the vectors of its known tokens (zero if none).
pub struct LocalModelEmbedder {
    vectors: HashMap<String, Vec<f32>>,
    dim: usize,
    path: PathBuf,
}

impl std::fmt::Debug for LocalModelEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModelEmbedder").field("path", &self.path).field("words", &self.vectors.len()).finish()
    }
}

impl LocalModelEmbedder {
    /// Loads `dir/vectors.txt`.
    pub fn load(dir: &Path) -> Result<LocalModelEmbedder, SearchError> {
        let path = dir.join("vectors.txt");
        let file = File::open(&path).map_err(|e| SearchError::io(&path, e))?;
        let mut vectors = HashMap::new();
        let mut dim = 0usize;
        for (line_number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| SearchError::io(&path, e))?;
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            let numbers: Vec<&str> = parts.collect();
            if line_number == 0 && numbers.len() == 1 {
                continue; // "<count> <dim>" header
            }
            let vector: Result<Vec<f32>, _> = numbers.iter().map(|n| n.parse::<f32>()).collect();
            let vector = vector.map_err(|_| {
                SearchError::Invalid(format!("{}: line {} has a non-numeric value", path.display(), line_number + 1))
            })?;
            if dim == 0 {
                dim = vector.len();
            }
            if vector.len() != dim || dim == 0 {
                return Err(SearchError::Invalid(format!(
                    "{}: line {} has {} values, expected {dim}",
                    path.display(),
                    line_number + 1,
                    vector.len()
                )));
            }
            vectors.insert(normalize(word), vector);
        }
        if dim == 0 {
            return Err(SearchError::Invalid(format!("{} holds no vectors", path.display())));
        }
        Ok(LocalModelEmbedder { vectors, dim, path })
    }
}

impl Embedder for LocalModelEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            let mut sum = vec![0f32; self.dim];
            for token in jieba_tokens(&normalize(text)) {
                if let Some(vector) = self.vectors.get(&token.text) {
                    for (total, value) in sum.iter_mut().zip(vector) {
                        *total += value;
                    }
                }
            }
            let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                sum.iter_mut().for_each(|v| *v /= norm);
            }
            out.push(sum);
        }
        Ok(out)
    }

    fn dim(&self) -> usize {
        self.dim
    }
}

#[derive(Serialize, Deserialize)]
struct VectorLine {
    id: ListingId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vector: Option<Vec<f32>>,
}

/// Vectors by listing id, persisted as an append-only JSON-lines log (`vectors.jsonl` in the
/// index directory): `{"id":…,"vector":[…]}` sets a vector, `{"id":…}` removes it.
#[derive(Debug, Default)]
pub(crate) struct VectorStore {
    vectors: HashMap<ListingId, Vec<f32>>,
}

impl VectorStore {
    pub(crate) fn load(path: &Path) -> Result<VectorStore, SearchError> {
        let mut vectors = HashMap::new();
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(VectorStore { vectors }),
            Err(e) => return Err(SearchError::io(path, e)),
        };
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| SearchError::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            // A torn last line (crash mid-write) is skipped rather than failing the open.
            let Ok(entry) = serde_json::from_str::<VectorLine>(&line) else { continue };
            match entry.vector {
                Some(vector) => vectors.insert(entry.id, vector),
                None => vectors.remove(&entry.id),
            };
        }
        Ok(VectorStore { vectors })
    }

    pub(crate) fn get(&self, id: &ListingId) -> Option<&Vec<f32>> {
        self.vectors.get(id)
    }

    pub(crate) fn apply(
        &mut self,
        path: &Path,
        added: HashMap<ListingId, Vec<f32>>,
        removed: &[ListingId],
    ) -> Result<(), SearchError> {
        let removed: Vec<ListingId> = removed.iter().filter(|id| self.vectors.contains_key(id)).copied().collect();
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let mut log = String::new();
        for id in &removed {
            self.vectors.remove(id);
            log.push_str(&serde_json::to_string(&VectorLine { id: *id, vector: None })?);
            log.push('\n');
        }
        for (id, vector) in added {
            log.push_str(&serde_json::to_string(&VectorLine { id, vector: Some(vector.clone()) })?);
            log.push('\n');
            self.vectors.insert(id, vector);
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| SearchError::io(path, e))?;
        file.write_all(log.as_bytes()).map_err(|e| SearchError::io(path, e))?;
        Ok(())
    }

    pub(crate) fn clear(&mut self, path: &Path) -> Result<(), SearchError> {
        self.vectors.clear();
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SearchError::io(path, e)),
        }
    }
}
