// Parses an AsyncAPI document with the official parser (@asyncapi/parser) and prints, as one
// JSON object, its diagnostics and what tools read from it: servers, channels with their Kafka
// bindings, the request operation's group id and the examples of each message.
// Usage: NODE_PATH=<dir>/node_modules node parse.js <asyncapi.yaml>
const { Parser, fromFile } = require('@asyncapi/parser');

async function main(path) {
  const { document, diagnostics } = await fromFile(new Parser(), path).parse();
  const out = {
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
    parsed: Boolean(document),
  };
  if (document) {
    out.servers = document.servers().all().map((s) => ({ id: s.id(), host: s.host(), protocol: s.protocol() }));
    out.channels = Object.fromEntries(document.channels().all().map((c) => {
      const kafka = c.bindings().get('kafka');
      return [c.id(), { address: c.address(), kafka: kafka ? kafka.value() : null }];
    }));
    out.operations = Object.fromEntries(document.operations().all().map((o) => {
      const kafka = o.bindings().get('kafka');
      return [o.id(), { action: o.action(), kafka: kafka ? kafka.value() : null }];
    }));
    out.messages = Object.fromEntries(document.components().messages().all().map((m) => [m.id(), {
      examples: m.examples().all().map((e) => ({ name: e.name(), headers: e.headers(), payload: e.payload() })),
      headers: m.hasHeaders() ? Object.keys(m.headers().properties() || {}) : [],
      key: m.bindings().get('kafka') ? m.bindings().get('kafka').value().key : null,
    }]));
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv[2]).catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(2);
});
