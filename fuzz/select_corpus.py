#!/usr/bin/env python3
"""Pick the checked-in corpus of a fuzz target: at most N inputs covering the most edges.

`cargo fuzz cmin` keeps every input that adds a feature (edge hit-count buckets
included), which for these targets means thousands of files. This keeps the seed files
(`seed-*`, written by `tests/fuzz_corpus.rs::write_seeds`) and then adds, greedily, the
input that covers the most edges not yet covered, until N inputs or no gain.

Usage, from fuzz/ after `cargo +nightly fuzz build <target>`:

    python3 select_corpus.py <target> [N=150] DIR...

DIRs are searched for inputs (e.g. corpus/<target> corpus-work/<target>); the result
replaces corpus/<target>. Prints how many edges the selection covers out of all.
"""

import os
import shutil
import subprocess
import sys
import tempfile


def main() -> None:
    target = sys.argv[1]
    rest = sys.argv[2:]
    cap = 150
    if rest and rest[0].isdigit():
        cap = int(rest.pop(0))
    dirs = rest or [f"corpus/{target}"]
    binary = f"target/x86_64-unknown-linux-gnu/release/{target}"
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = os.path.join(tmp, "out")
        control = os.path.join(tmp, "control")
        os.mkdir(out_dir)
        # set_cover_merge records every feature of every input in the control file;
        # use_counters=0 makes a feature an edge.
        subprocess.run(
            [binary, "-set_cover_merge=1", "-use_counters=0", "-max_len=65536",
             f"-merge_control_file={control}", out_dir, *dirs],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        lines = open(control).read().split("\n")
        n = int(lines[0])
        files = lines[2:2 + n]
        features = {}
        for line in lines[2 + n:]:
            if line.startswith("FT "):
                parts = line.split()
                features[int(parts[1])] = set(parts[2:])
        everything = set().union(*features.values())
        seeds = [i for i in features if os.path.basename(files[i]).startswith("seed-")]
        covered = set().union(*(features[i] for i in seeds))
        chosen = list(seeds)
        left = [i for i in features if i not in chosen]
        while left and len(chosen) < cap:
            best = max(left, key=lambda i: (len(features[i] - covered),
                                            -os.path.getsize(files[i])))
            if not features[best] - covered:
                break
            chosen.append(best)
            covered |= features[best]
            left.remove(best)
        new_dir = os.path.join(tmp, "selected")
        os.mkdir(new_dir)
        for i in chosen:
            shutil.copy(files[i], new_dir)
        shutil.rmtree(f"corpus/{target}", ignore_errors=True)
        shutil.copytree(new_dir, f"corpus/{target}")
    size = sum(os.path.getsize(os.path.join(f"corpus/{target}", f))
               for f in os.listdir(f"corpus/{target}"))
    print(f"{target}: {len(chosen)} inputs, {size} bytes, "
          f"{len(covered)} of {len(everything)} edges")


if __name__ == "__main__":
    main()
