// Parses DUIS documents with SmartDCC's @smartdcc/duis-parser, many per node start.
// stdin: JSON lines, each one JSON string holding a document's text.
// stdout: one JSON line per document, in order: {"ok": true, "parsed": ...} or {"ok": false, "error": "..."}.
'use strict'
const readline = require('node:readline')
const { parseDuis } = require('@smartdcc/duis-parser')

const bigintAsText = (_key, value) => (typeof value === 'bigint' ? value.toString() : value)

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (!line.trim()) return
  let answer
  try {
    answer = { ok: true, parsed: parseDuis('simplified', JSON.parse(line)) }
  } catch (error) {
    answer = { ok: false, error: String(error && error.message ? error.message : error) }
  }
  process.stdout.write(JSON.stringify(answer, bigintAsText) + '\n')
})
