// Reads .env files with the npm `dotenv` package, for tests/test_env_readers.py.
// node read_dotenv.js FILE...  ->  {"FILE": {"parse": {...}, "fast": {...}}, ...} on stdout:
// `parse` is dotenv.parse as config() calls it by default, `fast` its opt-in fast parser.
'use strict'
const fs = require('fs')
const dotenv = require('dotenv')

const readings = {}
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8')
  readings[file] = { parse: dotenv.parse(text), fast: dotenv.parse(text, { fast: true }) }
}
process.stdout.write(JSON.stringify(readings))
