//! What customers can order (plans and regions) and what that means at Hetzner (server types
//! and locations). The catalog is configuration; [`Catalog::default`] holds the seed's offer.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A plan name as customers see it (`starter`, `professional`, `enterprise`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanName(String);

/// A region name as customers see it (`us-east`, `eu-west`, `asia-pacific`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionName(String);

macro_rules! catalog_name {
    ($name:ident) => {
        impl $name {
            /// Wraps a name without checking it against a catalog; use
            /// [`Catalog::plan`]/[`Catalog::region`] to validate.
            pub fn new(name: impl Into<String>) -> Self {
                $name(name.into())
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The primary disk (GB) of Hetzner's shared server types, for the default catalog and the
/// fake providers. A plan on another type states its disk in the catalog (`disk_gb`).
pub const SERVER_TYPE_DISKS: &[(&str, u32)] = &[
    ("cx22", 40),
    ("cx23", 40),
    ("cx32", 80),
    ("cx33", 80),
    ("cx42", 160),
    ("cx43", 160),
    ("cx52", 320),
    ("cx53", 320),
    ("cpx11", 40),
    ("cpx21", 80),
    ("cpx22", 80),
    ("cpx31", 160),
    ("cpx32", 160),
    ("cpx41", 240),
    ("cpx42", 320),
    ("cpx51", 360),
];

/// The disk of `server_type` from [`SERVER_TYPE_DISKS`], if listed there.
pub fn server_type_disk_gb(server_type: &str) -> Option<u32> {
    SERVER_TYPE_DISKS
        .iter()
        .find(|(name, _)| *name == server_type)
        .map(|(_, disk)| *disk)
}

catalog_name!(PlanName);
catalog_name!(RegionName);

/// What a plan provisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The Hetzner server type (`cpx22`, …).
    pub server_type: String,
    /// The OS image the server boots (`ubuntu-24.04`).
    #[serde(default = "default_image")]
    pub image: String,
    /// The server type's disk in GB, when known. A plan change never grows the disk (so a
    /// later downgrade stays possible), and a server cannot move to a type with a smaller
    /// disk than the one it has: a change to a plan whose disk is smaller is refused up
    /// front. Unknown: the provider decides when the change is made.
    #[serde(default)]
    pub disk_gb: Option<u32>,
}

/// Where a region provisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// The Hetzner location (`ash`, `fsn1`, `sin`, …).
    pub location: String,
}

fn default_image() -> String {
    "ubuntu-24.04".to_string()
}

/// Plans and regions on offer, keyed by their customer-facing names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Plans by name.
    pub plans: BTreeMap<String, Plan>,
    /// Regions by name.
    pub regions: BTreeMap<String, Region>,
}

impl Default for Catalog {
    /// The seed's offer: three plans on Hetzner's shared AMD types (available in every
    /// location) and three regions.
    fn default() -> Self {
        let plan = |server_type: &str| Plan {
            server_type: server_type.to_string(),
            image: default_image(),
            disk_gb: server_type_disk_gb(server_type),
        };
        let region = |location: &str| Region {
            location: location.to_string(),
        };
        Catalog {
            plans: BTreeMap::from([
                ("starter".to_string(), plan("cpx22")),
                ("professional".to_string(), plan("cpx32")),
                ("enterprise".to_string(), plan("cpx42")),
            ]),
            regions: BTreeMap::from([
                ("us-east".to_string(), region("ash")),
                ("eu-west".to_string(), region("fsn1")),
                ("asia-pacific".to_string(), region("sin")),
            ]),
        }
    }
}

impl Catalog {
    /// The plan called `name`, or `InvalidInput` on field `plan` listing what exists.
    pub fn plan(&self, name: &str) -> Result<(PlanName, &Plan)> {
        self.plans
            .get(name)
            .map(|p| (PlanName::new(name), p))
            .ok_or_else(|| {
                Error::invalid(
                    "plan",
                    format!("unknown plan {name:?}; known: {}", join_keys(&self.plans)),
                )
            })
    }

    /// The region called `name`, or `InvalidInput` on field `region` listing what exists.
    pub fn region(&self, name: &str) -> Result<(RegionName, &Region)> {
        self.regions
            .get(name)
            .map(|r| (RegionName::new(name), r))
            .ok_or_else(|| {
                Error::invalid(
                    "region",
                    format!(
                        "unknown region {name:?}; known: {}",
                        join_keys(&self.regions)
                    ),
                )
            })
    }

    /// Checks the catalog itself: at least one plan and region, no empty field.
    pub fn validate(&self) -> Result<()> {
        if self.plans.is_empty() {
            return Err(Error::invalid(
                "catalog.plans",
                "must list at least one plan",
            ));
        }
        if self.regions.is_empty() {
            return Err(Error::invalid(
                "catalog.regions",
                "must list at least one region",
            ));
        }
        for (name, plan) in &self.plans {
            if plan.server_type.trim().is_empty() || plan.image.trim().is_empty() {
                return Err(Error::invalid(
                    format!("catalog.plans.{name}"),
                    "server_type and image must not be empty",
                ));
            }
        }
        for (name, region) in &self.regions {
            if region.location.trim().is_empty() {
                return Err(Error::invalid(
                    format!("catalog.regions.{name}"),
                    "location must not be empty",
                ));
            }
        }
        Ok(())
    }
}

fn join_keys<V>(map: &BTreeMap<String, V>) -> String {
    map.keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_has_the_seed_offer() {
        let catalog = Catalog::default();
        catalog.validate().unwrap();
        assert_eq!(catalog.plan("starter").unwrap().1.server_type, "cpx22");
        assert_eq!(catalog.region("eu-west").unwrap().1.location, "fsn1");
        assert_eq!(catalog.region("us-east").unwrap().1.location, "ash");
        assert_eq!(catalog.region("asia-pacific").unwrap().1.location, "sin");
    }

    #[test]
    fn unknown_names_are_invalid_input_naming_the_field() {
        let catalog = Catalog::default();
        match catalog.plan("huge") {
            Err(Error::InvalidInput { field, message }) => {
                assert_eq!(field, "plan");
                assert!(message.contains("enterprise"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            catalog.region("moon"),
            Err(Error::InvalidInput { ref field, .. }) if field == "region"
        ));
    }

    #[test]
    fn catalog_loads_from_json_with_default_image() {
        let c: Catalog = serde_json::from_str(
            r#"{"plans":{"tiny":{"server_type":"cx23"}},"regions":{"de":{"location":"nbg1"}}}"#,
        )
        .unwrap();
        assert_eq!(c.plan("tiny").unwrap().1.image, "ubuntu-24.04");
    }
}
