//! Schemes that show labs by code: the genesis choice, and accreditations that must carry
//! a code.

use interlab_protocol::{
    Body, MemoryLog, Rejection, is_lab_code, testkit::Author, to_canonical_vec,
};

const NOW: u64 = u64::MAX / 2;

fn scheme(lab_codes: bool) -> (MemoryLog, Author) {
    let mut owner = Author::new(41);
    let genesis = owner.next(Body::SchemeGenesis {
        name: "coded".into(),
        lab_codes,
        contact: None,
    });
    owner.join(genesis.id());
    let mut log = MemoryLog::new();
    log.ingest(&genesis.to_bytes(), NOW).unwrap();
    (log, owner)
}

fn accredit(log: &mut MemoryLog, owner: &mut Author, name: &str) -> Result<(), Rejection> {
    let lab = Author::new(name.len() as u64 + 900);
    let env = owner.next(Body::LabAccredited {
        lab: lab.public(),
        name: name.into(),
    });
    log.ingest(&env.to_bytes(), NOW).map(|_| ())
}

#[test]
fn lab_codes_are_capitals_then_digits_and_names_are_not_codes() {
    for ok in ["L01", "L07", "LAB-0012", "AB99"] {
        assert!(is_lab_code(ok), "{ok}");
    }
    for bad in [
        "",
        "Acme Security Lab",
        "l07",
        "L7",
        "lab0",
        "L-",
        "LABS01",
        "L123456",
    ] {
        assert!(!is_lab_code(bad), "{bad}");
    }
}

#[test]
fn a_coded_scheme_rejects_an_accreditation_that_carries_a_name() {
    let (mut log, mut owner) = scheme(true);
    assert!(log.authority().lab_codes());
    let err = accredit(&mut log, &mut owner, "Acme Security Lab").unwrap_err();
    assert_eq!(
        err,
        Rejection::NotALabCode {
            name: "Acme Security Lab".into()
        }
    );
    assert_eq!(err.code(), "not_a_lab_code");
    // The owner's chain did not advance: sign the code at the same position again.
    let mut owner = {
        let (_, o) = scheme(true);
        o
    };
    let (mut log, _) = scheme(true);
    accredit(&mut log, &mut owner, "L01").unwrap();
    assert_eq!(log.authority().labs().next().unwrap().name, "L01");
}

#[test]
fn a_name_scheme_accepts_names_and_keeps_its_genesis_bytes() {
    let (mut log, mut owner) = scheme(false);
    assert!(!log.authority().lab_codes());
    accredit(&mut log, &mut owner, "Acme Security Lab").unwrap();
    // A name scheme's genesis body has no `lab_codes` key: older records keep their ids.
    let body = to_canonical_vec(&Body::SchemeGenesis {
        name: "x".into(),
        lab_codes: false,
        contact: None,
    });
    assert!(!body.windows(9).any(|w| w == b"lab_codes"));
    let coded = to_canonical_vec(&Body::SchemeGenesis {
        name: "x".into(),
        lab_codes: true,
        contact: None,
    });
    assert!(coded.windows(9).any(|w| w == b"lab_codes"));
}

#[test]
fn a_genesis_carries_the_providers_contact_only_when_given_and_bounds_it() {
    let without = to_canonical_vec(&Body::SchemeGenesis {
        name: "x".into(),
        lab_codes: false,
        contact: None,
    });
    assert!(
        !without.windows(7).any(|w| w == b"contact"),
        "a genesis without a contact keeps the bytes it had before the field existed"
    );
    let mut owner = Author::new(43);
    let genesis = owner.next(Body::SchemeGenesis {
        name: "with contact".into(),
        lab_codes: false,
        contact: Some("pt-rounds@provider.example".into()),
    });
    let mut log = MemoryLog::new();
    log.ingest(&genesis.to_bytes(), NOW).unwrap();
    let stored = log.records().next().unwrap();
    assert!(matches!(
        &stored.record.body,
        Body::SchemeGenesis { contact: Some(c), .. } if c == "pt-rounds@provider.example"
    ));

    let mut owner = Author::new(44);
    let long = owner.next(Body::SchemeGenesis {
        name: "long contact".into(),
        lab_codes: false,
        contact: Some("x".repeat(interlab_protocol::MAX_TEXT + 1)),
    });
    let refused = MemoryLog::new().ingest(&long.to_bytes(), NOW).unwrap_err();
    assert!(
        matches!(
            refused,
            Rejection::TextTooLong {
                field: "contact",
                ..
            }
        ),
        "{refused:?}"
    );
}
