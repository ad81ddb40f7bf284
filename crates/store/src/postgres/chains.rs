//! `Chains` on PostgreSQL.

use xietong_domain::UserId;
use xietong_domain::chain::Chain;
use xietong_domain::enclave::EnclaveBody;

use super::accounts::insert_audit;
use super::{now, text};
use crate::chains::{chain_json, parse_chain, parse_enterprises};
use crate::{ChainEdit, Chains, Enclave, NewAudit, PostgresStore, StoreError};

impl Chains for PostgresStore {
    fn chain_edits(&self) -> Result<Vec<ChainEdit>, StoreError> {
        self.read(|db| {
            let rows =
                db.query("SELECT body, version, updated_by, updated_at FROM chain_edits ORDER BY chain_id", &[])?;
            rows.iter()
                .map(|row| {
                    let body: String = row.try_get(0)?;
                    Ok(ChainEdit {
                        chain: parse_chain(&body)?,
                        version: row.try_get(1)?,
                        updated_by: row.try_get::<_, Option<i64>>(2)?.map(UserId),
                        updated_at: row.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn save_chain_edit(
        &self,
        chain: &Chain,
        expected_version: i64,
        updated_by: Option<UserId>,
        audit: NewAudit,
    ) -> Result<ChainEdit, StoreError> {
        let body = chain_json(chain)?;
        let chain_id = text(&chain.id);
        self.write(|db| {
            let at = now();
            let version = expected_version + 1;
            let user = updated_by.map(|u| u.0);
            // Of concurrent edits decided on one version, the first insert or conditional update
            // wins; the others change no row.
            let written = if expected_version == 0 {
                db.execute(
                    "INSERT INTO chain_edits (chain_id, body, version, updated_by, updated_at) VALUES ($1, $2, 1, $3, $4)
                     ON CONFLICT (chain_id) DO NOTHING",
                    &[&chain_id, &body, &user, &at],
                )?
            } else {
                db.execute(
                    "UPDATE chain_edits SET body = $2, version = $3, updated_by = $4, updated_at = $5
                     WHERE chain_id = $1 AND version = $6",
                    &[&chain_id, &body, &version, &user, &at, &expected_version],
                )?
            };
            if written == 0 {
                let actual: i64 = db
                    .query_opt("SELECT version FROM chain_edits WHERE chain_id = $1", &[&chain_id])?
                    .map(|row| row.try_get(0))
                    .transpose()?
                    .unwrap_or(0);
                return Err(StoreError::Stale { what: format!("chain {}", chain.id), expected: expected_version, actual });
            }
            insert_audit(db, audit)?;
            Ok(ChainEdit { chain: chain.clone(), version, updated_by, updated_at: at })
        })
    }

    fn create_enclave(
        &self,
        body: &EnclaveBody,
        created_by: Option<UserId>,
        audit: &dyn Fn(&Enclave) -> NewAudit,
    ) -> Result<Enclave, StoreError> {
        let enterprises = serde_json::to_string(&body.enterprises)
            .map_err(|e| StoreError::backend_caused("failed to serialize enclave enterprises", e))?;
        self.write(|db| {
            let at = now();
            let id: i64 = db
                .query_one(
                    "INSERT INTO enclaves (kind, name, home_region, host_region, host_park, enterprises, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    &[
                        &body.kind.as_str(),
                        &text(&body.name),
                        &text(&body.home_region),
                        &text(&body.host_region),
                        &text(&body.host_park),
                        &enterprises,
                        &created_by.map(|u| u.0),
                        &at,
                    ],
                )?
                .try_get(0)?;
            let enclave = Enclave { id, body: body.clone(), created_by, created_at: at };
            insert_audit(db, audit(&enclave))?;
            Ok(enclave)
        })
    }

    fn enclaves(&self) -> Result<Vec<Enclave>, StoreError> {
        self.read(|db| {
            let rows = db.query(
                "SELECT id, kind, name, home_region, host_region, host_park, enterprises, created_by, created_at
                 FROM enclaves ORDER BY id",
                &[],
            )?;
            rows.iter()
                .map(|row| {
                    let kind: String = row.try_get(1)?;
                    let enterprises: String = row.try_get(6)?;
                    Ok(Enclave {
                        id: row.try_get(0)?,
                        body: EnclaveBody {
                            kind: kind.parse().map_err(StoreError::backend)?,
                            name: row.try_get(2)?,
                            home_region: row.try_get(3)?,
                            host_region: row.try_get(4)?,
                            host_park: row.try_get(5)?,
                            enterprises: parse_enterprises(&enterprises)?,
                        },
                        created_by: row.try_get::<_, Option<i64>>(7)?.map(UserId),
                        created_at: row.try_get(8)?,
                    })
                })
                .collect()
        })
    }
}
