//! `weir docs`: the diagrams name every table and link, the index every column, both read as
//! well-formed documents, and the expected names come from the schema itself.

use crate::harness::Project;

/// Every declared table with its columns, as SQLite reads schemas/ (after `weir initialize`).
fn declared(p: &Project) -> Vec<(String, Vec<String>)> {
    p.ok(&["initialize"]);
    let db = p.path("warehouse.sqlite");
    let db = db.to_str().unwrap();
    p.sql_at(
        db,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'weir\\_%' ESCAPE '\\' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .into_iter()
    .map(|t| {
        let columns = p.sql_at(db, &format!("SELECT name FROM pragma_table_info('{t}')"));
        (t, columns)
    })
    .collect()
}

/// The texts an SVG shows, after checking it is well-formed XML.
fn svg_texts(text: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text") || n.has_tag_name("title"))
        .map(|n| {
            let text: String = n
                .descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect();
            text.trim().to_string()
        })
        .collect()
}

/// The part of the index about one table.
fn section<'a>(index: &'a str, table: &str) -> &'a str {
    let start = index
        .find(&format!(
            "<section class=\"table-doc\" id=\"table-{table}\">"
        ))
        .unwrap_or_else(|| panic!("the index has no section for {table}"));
    let end = index[start..].find("</section>").unwrap() + start;
    &index[start..end]
}

#[test]
fn the_samples_docs_name_every_table_column_and_link() {
    let p = Project::shipped();
    let out = p.ok(&["docs"]);
    assert!(out.stdout.is_empty());
    let tables = declared(&p);
    assert!(tables.len() > 20, "{tables:?}");
    let index = p.read("output/docs/index.html");
    assert!(
        !index.contains("http:") && !index.contains("https:"),
        "the page needs no network"
    );
    let mut shown = Vec::new();
    for file in p.files("output/docs") {
        if file.ends_with(".svg") {
            shown.extend(svg_texts(&p.read(&format!("output/docs/{file}"))));
        }
    }
    for (table, columns) in &tables {
        assert!(shown.contains(table), "no diagram shows {table}");
        let part = section(&index, table);
        for c in columns {
            assert!(
                part.contains(&format!("<code>{c}</code>")),
                "{table}.{c} is not in the index"
            );
        }
    }
    let incidents = svg_texts(&p.read("output/docs/incidents.svg"));
    assert!(incidents.contains(&"incident_name, incident_date".to_string()));
    assert!(
        incidents[0].contains("incidents -> root_causes"),
        "{incidents:?}"
    );
    assert!(
        incidents[0].contains("incidents -> affected_products"),
        "{incidents:?}"
    );
    assert!(
        incidents.contains(&"incident_name: TEXT PK".to_string()),
        "{incidents:?}"
    );

    let slos = section(&index, "slos");
    assert!(
        slos.contains(
            "<code>mappers/slos.yaml</code> from <code>schemas/reference/slos.yaml</code>"
        )
    );
    assert!(slos.contains("<code>slo_error_budget</code>"), "{slos}");
    assert!(
        slos.contains("percentage of time the product should be up"),
        "{slos}"
    );
    // A second run replaces the folder whole and leaves nothing beside it.
    p.ok(&["docs"]);
    assert_eq!(
        p.files("output")
            .iter()
            .filter(|f| !f.starts_with("docs/"))
            .count(),
        0
    );
}

#[test]
fn a_parent_child_mapper_shows_its_link_and_comments_and_readers() {
    let p = Project::empty();
    p.write(
        "schemas/10_shop.sql",
        "-- Orders <placed> & paid.\nCREATE TABLE orders (\n    id BIGINT PRIMARY KEY, -- the order's number\n    -- who bought it\n    buyer TEXT\n);\n\nCREATE TABLE order_lines (\n    order_ref BIGINT NOT NULL,\n    sku TEXT NOT NULL, -- stock keeping unit\n    PRIMARY KEY (order_ref, sku)\n);\n",
    )
    .write(
        "mappers/shop.yaml",
        "table: orders\nkey: [id]\ncolumns:\n  id: {from: id, type: integer}\n  buyer: buyer\nchildren:\n  - table: order_lines\n    each: lines\n    link: {order_ref: id}\n    columns:\n      sku: sku\n",
    )
    .write("raw_data/shop/1.json", "[{\"id\": 1, \"buyer\": \"x\", \"lines\": [{\"sku\": \"a\"}]}]")
    .write("queries/lines.sql", "SELECT sku FROM order_lines -- not orders\n")
    .write("queries/buyers.sql", "SELECT o.buyer AS orders_buyer FROM orders o\n");
    p.ok(&["docs"]);
    let texts = svg_texts(&p.read("output/docs/shop.svg"));
    assert!(texts.contains(&"order_ref = id".to_string()), "{texts:?}");
    assert!(texts[0].contains("orders -> order_lines"), "{texts:?}");
    let index = p.read("output/docs/index.html");
    let orders = section(&index, "orders");
    assert!(
        orders.contains("Orders &lt;placed&gt; &amp; paid."),
        "{orders}"
    );
    assert!(orders.contains("the order&#39;s number"), "{orders}");
    assert!(orders.contains("who bought it"), "{orders}");
    assert!(orders.contains("Read by <code>buyers</code>."), "{orders}");
    let lines = section(&index, "order_lines");
    assert!(lines.contains("stock keeping unit"), "{lines}");
    assert!(lines.contains("Read by <code>lines</code>."), "{lines}");
    assert!(lines.contains("<code>mappers/shop.yaml</code> from <code>raw_data/shop/</code>"));
}
