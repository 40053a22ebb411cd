// Validate FHIR R4 JSON documents with FHIR.js (npm `fhir`, pinned in tests/support/node).
// Usage: node fhir_validate.js FILE   (FILE: a JSON array of FHIR resources)
// Prints a JSON array, one {valid, messages} per document (errors only; FHIR.js's own severities).
"use strict";
const fs = require("fs");
const path = require("path");
const { Fhir } = require(path.join(__dirname, "node", "node_modules", "fhir"));

const documents = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const fhir = new Fhir();
const results = documents.map((doc) => {
  const result = fhir.validate(doc, { errorOnUnexpected: true });
  const errors = result.messages.filter((m) => m.severity === "error");
  return { valid: errors.length === 0, messages: errors.map((m) => `${m.location}: ${m.message}`) };
});
process.stdout.write(JSON.stringify(results));
