// Run a MicroPython script under the 32-bit WebAssembly port, with folders of the host copied
// into its in-memory filesystem (bench only: the firmware ships for the ESP32, not for this).
//
//   node bench/mp32/run.mjs --heap BYTES --cwd DIR [--path DIR]... SCRIPT [ARG]...
//
// This port collects garbage only between top-level calls, never while Python code runs (it
// cannot scan WebAssembly's own stack): a script that defines `step()` is run, then `step()`
// is called, with a full collection before each call, until it returns False. A probe thus
// sees the heap as an ESP32's collector would leave it between steps (boot stages, ticks).
//
// Every --path folder and the --cwd folder are copied into the same absolute paths inside;
// sys.path is the --path folders (in order), the script runs in --cwd with sys.argv set.
// bench/mp32/stand_ins (cryptolib and socket, which this port lacks) comes first on the path. After the
// script, one line `mp32: gc_total N` gives the size the GC heap ended at: more than --heap
// means the script did not fit in it (this port adds heap areas instead of failing).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let heap = 128 * 1024;
let cwd = process.cwd();
const paths = [path.join(here, "stand_ins")];
while (args[0] && args[0].startsWith("--")) {
  const flag = args.shift();
  const value = args.shift();
  if (flag === "--heap") heap = parseInt(value, 10);
  else if (flag === "--cwd") cwd = path.resolve(value);
  else if (flag === "--path") paths.push(path.resolve(value));
  else throw new Error(`unknown option ${flag}`);
}
const [script, ...scriptArgs] = args;

let out = "";
const mp = await loadMicroPython({
  heapsize: heap,
  stdout: (line) => {
    out += line + "\n";
    process.stdout.write(line + "\n");
  },
  stderr: (line) => process.stderr.write(line + "\n"),
});

function mkdirs(dir) {
  let at = "";
  for (const part of dir.split("/").filter(Boolean)) {
    at += "/" + part;
    try {
      mp.FS.mkdir(at);
    } catch (e) {
      // exists already
    }
  }
}

function copyTree(dir) {
  mkdirs(dir);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) copyTree(full);
    else if (entry.isFile()) mp.FS.writeFile(full, fs.readFileSync(full));
  }
}

for (const p of paths) copyTree(p);
copyTree(cwd);
const source = fs.readFileSync(script, "utf8");
const setup = [
  "import os, sys",
  // the firmware's backoff jitter takes os.urandom, which this port lacks (measuring only)
  "if not hasattr(os, 'urandom'):\n    os.urandom = lambda n: bytes(n)",
  `os.chdir(${JSON.stringify(cwd)})`,
  `sys.path[:] = ${JSON.stringify(paths)}`,
  `sys.argv[:] = ${JSON.stringify([script, ...scriptArgs])}`,
].join("\n");
let failed = false;
try {
  mp.runPython(setup);
  mp.runPython(source);
  const step = mp.globals.get("step");
  if (step) {
    do {
      mp.runPython("import gc\ngc.collect()");
    } while (step());
  }
} catch (e) {
  failed = true;
  process.stderr.write(`mp32: ${e.message || e}\n`);
}
out = "";
mp.runPython("import micropython\nmicropython.mem_info()");
const total = /GC: total: (\d+)/.exec(out);
process.stdout.write(`mp32: gc_total ${total ? total[1] : "?"}\n`);
process.exit(failed ? 1 : 0);
