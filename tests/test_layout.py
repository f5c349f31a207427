#!/usr/bin/env python3
"""tests/test_layout.py: the shape of daemon/ that README promises.

Checks, over every .c and .h file in daemon/:
  - file size: no file over MAX_FILE lines;
  - function size: no function body over MAX_FUNC lines (KNF: the name
    starts a line, the body opens and closes with a brace in column 0);
  - headers: every function a header declares carries the header's prefix
    (hub.h declares hub_*), so no module declares another's functions;
  - include graph: no circle between modules (a module is a file's stem;
    x_impl.h belongs to x), so each module includes only those below it.

Run by make check. Prints one line per finding and a closing "N passed, N failed" line; exits
1 if any check failed. Usage: test_layout.py [DAEMON_DIR].
"""
import os
import re
import sys

MAX_FILE = 1200
MAX_FUNC = 120
# Names a header may declare beside its prefix: log.h's fatal() and
# fatalx(), the two that stop the daemon (STYLE.md, habit 13).
EXTRA_NAMES = {'log': ('fatal', 'fatalx')}

FUNC_START = re.compile(r'^([a-z_][a-z0-9_]*)\(')
DECL = re.compile(r'\b([a-z_][a-z0-9_]*)\s*\(')
INCLUDE = re.compile(r'^#include\s+"([a-z0-9_]+)\.h"')


def module_of(stem):
    """x_impl belongs to x."""
    return stem[:-5] if stem.endswith('_impl') else stem


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read().split('\n')


def check_file_sizes(files):
    bad = []
    for path, lines in files.items():
        n = len(lines) - (1 if lines and lines[-1] == '' else 0)
        if n > MAX_FILE:
            bad.append('%s: %d lines (at most %d)' % (path, n, MAX_FILE))
    return bad


def check_function_sizes(files):
    bad = []
    for path, lines in files.items():
        if not path.endswith('.c'):
            continue
        name, start, inbody = None, 0, False
        for i, line in enumerate(lines):
            m = FUNC_START.match(line)
            if m and not inbody:
                name, start = m.group(1), i
            elif line.startswith('{') and name is not None:
                inbody = True
            elif line.startswith('}') and inbody:
                length = i - start + 1
                if length > MAX_FUNC:
                    bad.append('%s:%d: %s() is %d lines (at most %d)' %
                               (path, start + 1, name, length, MAX_FUNC))
                name, inbody = None, False
    return bad


def header_decls(lines):
    """(line number, name) of each function a header declares."""
    out = []
    in_comment = False
    for i, line in enumerate(lines):
        s = line.strip()
        if in_comment:
            if '*/' in s:
                in_comment = False
            continue
        if s.startswith('/*'):
            in_comment = '*/' not in s
            continue
        if not line or line[0] in ' \t#}{/*' or '(' not in line:
            continue
        if line.startswith(('typedef', 'struct', 'enum', 'union')) and \
                '(' not in line.split('{')[0]:
            continue
        if re.search(r'\(\s*\*', line.split('(')[0] + '(' +
                     line.split('(', 1)[1][:2]):
            continue            # a pointer to a function
        m = DECL.search(line)
        if m and not line.startswith('#'):
            out.append((i + 1, m.group(1)))
    return out


def check_header_prefixes(files):
    bad = []
    for path, lines in files.items():
        if not path.endswith('.h'):
            continue
        mod = module_of(os.path.basename(path)[:-2])
        for lineno, name in header_decls(lines):
            if name == mod or name.startswith(mod + '_') or \
                    name in EXTRA_NAMES.get(mod, ()):
                continue
            bad.append('%s:%d: declares %s(), not a %s_* function' %
                       (path, lineno, name, mod))
    return bad


def check_include_graph(files):
    graph = {}
    for path, lines in files.items():
        mod = module_of(os.path.basename(path).rsplit('.', 1)[0])
        deps = graph.setdefault(mod, set())
        for line in lines:
            m = INCLUDE.match(line)
            if m and module_of(m.group(1)) != mod:
                deps.add(module_of(m.group(1)))
    bad, state, stack = [], {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cyc = stack[stack.index(d):] + [d]
                bad.append('include circle: ' + ' -> '.join(cyc))
            elif d in graph and d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return bad


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get('TESTS_SRCDIR', os.path.dirname(__file__)), '..',
        'daemon')
    files = {}
    for name in sorted(os.listdir(top)):
        if name.endswith(('.c', '.h')):
            files[os.path.join('daemon', name)] = read(os.path.join(top, name))
    if not files:
        print('no source files in %s' % top)
        return 1
    checks = [
        ('file sizes', check_file_sizes),
        ('function sizes', check_function_sizes),
        ('header prefixes', check_header_prefixes),
        ('include graph', check_include_graph),
    ]
    passed = failed = 0
    for title, fn in checks:
        bad = fn(files)
        for b in bad:
            print('  ' + b)
        print('%s: %s' % (title, 'ok' if not bad else
                          '%d finding(s)' % len(bad)))
        if bad:
            failed += 1
        else:
            passed += 1
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
