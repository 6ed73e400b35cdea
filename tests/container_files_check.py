"""container_files_check.py - structure of containers/ that a linter does not see (tests/test_container_files.sh).

container_files_check.py dockerfiles Dockerfile Dockerfile.cuda: both parse with BuildKit's own parser (the
  `dockerfile` package); both are multi-stage builds whose last (runtime) stage copies only /opt/dltrain from
  the build stage and installs no compiler or -dev package; both have the same user, working directory, entry
  point, command, layout of /opt/dltrain and OCI label keys.
container_files_check.py def dltrain.def: an Apptainer definition with a Bootstrap/From header, %arguments
  giving every {{ variable }} the header uses, and the %runscript (the images' entry point) and %test sections.
Prints one line per problem and exits 1 when there is one."""
import re
import sys

COMPILERS = re.compile(r"(^|\s)(build-essential|gcc(-\d+)?|g\+\+|clang(-\d+)?|make|autoconf|automake|libtool|[\w.+-]+-dev)(\s|$)")


def stages(path):
    import dockerfile
    cmds = dockerfile.parse_file(path)
    out, cur = [], None
    for c in cmds:
        if c.cmd == "FROM":
            cur = []
            out.append(cur)
        if cur is not None:
            cur.append(c)
    return out


def runtime_facts(path, problems):
    st = stages(path)
    if len(st) < 2:
        problems.append("%s: %d stage(s), expected build stages + a runtime stage" % (path, len(st)))
        return {}
    run = st[-1]
    build = [c for stage in st[:-1] for c in stage]
    if not any(len(stage[0].value) == 3 and stage[0].value[2] == "build" for stage in st[:-1]):
        problems.append("%s: no stage named build" % path)
    facts = {"labels": set(), "layout": None}
    for c in run:
        if c.cmd == "COPY":
            if "--from=build" not in c.flags or not c.value[0].startswith("/opt/dltrain"):
                problems.append("%s: the runtime stage copies %s %s (only /opt/dltrain from build)" % (path, c.flags, c.value))
        elif c.cmd == "RUN":
            text = " ".join(c.value)
            for seg in re.findall(r"apt-get install[^&]*", text):
                m = COMPILERS.search(seg)
                if m:
                    problems.append("%s: the runtime stage installs %s" % (path, m.group(2)))
        elif c.cmd in ("USER", "WORKDIR", "ENTRYPOINT", "CMD"):
            facts[c.cmd] = c.value
        elif c.cmd == "LABEL":
            facts["labels"] |= set(c.value[0::2])
    for c in build:
        if c.cmd == "RUN" and "/opt/dltrain" in " ".join(c.value):
            facts["layout"] = re.findall(r"(?:cp|mkdir)[^&]*/opt/dltrain[^&]*", " ".join(c.value))
    if facts.get("USER", ("0",))[0].split(":")[0] in ("0", "root"):
        problems.append("%s: the runtime stage runs as root" % path)
    return facts


def check_dockerfiles(cpu, cuda):
    problems = []
    a, b = runtime_facts(cpu, problems), runtime_facts(cuda, problems)
    for key in ("USER", "WORKDIR", "ENTRYPOINT", "CMD", "labels", "layout"):
        if a.get(key) != b.get(key):
            problems.append("%s differs: %s %s vs %s %s" % (key, cpu, a.get(key), cuda, b.get(key)))
    if not a.get("layout"):
        problems.append("%s: no /opt/dltrain layout found in the build stage" % cpu)
    for key in ("title", "revision", "source", "version", "created"):
        if "org.opencontainers.image." + key not in a.get("labels", ()):
            problems.append("%s: no OCI label org.opencontainers.image.%s" % (cpu, key))
    return problems


def check_def(path):
    problems = []
    text = open(path).read()
    lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    header = {}
    for l in lines:
        if l.startswith("%"):
            break
        k, _, v = l.partition(":")
        header[k.strip()] = v.strip()
    for k in ("Bootstrap", "From"):
        if k not in header:
            problems.append("%s: header without %s:" % (path, k))
    sections = re.findall(r"^%(\w+)", text, re.M)
    known = {"arguments", "setup", "files", "environment", "post", "runscript", "startscript", "test",
             "labels", "help", "app"}
    for s in sections:
        if s not in known and not s.startswith("app"):
            problems.append("%s: unknown section %%%s" % (path, s))
    for s in ("runscript", "test"):
        if s not in sections:
            problems.append("%s: no %%%s section" % (path, s))
    args = re.search(r"^%arguments\n(.*?)(?=^%|\Z)", text, re.M | re.S)
    defined = set(re.findall(r"^\s*(\w+)=", args.group(1), re.M)) if args else set()
    for var in re.findall(r"\{\{\s*(\w+)\s*\}\}", text):
        if var not in defined:
            problems.append("%s: {{ %s }} has no default in %%arguments" % (path, var))
    run = re.search(r"^%runscript\n(.*?)(?=^%|\Z)", text, re.M | re.S)
    if run and "/opt/dltrain/scripts/entrypoint.sh" not in run.group(1):
        problems.append("%s: %%runscript does not run the images' entry point" % path)
    return problems


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "dockerfiles":
        problems = check_dockerfiles(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "def":
        problems = check_def(sys.argv[2])
    else:
        sys.exit(__doc__)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
