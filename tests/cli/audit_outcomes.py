#!/usr/bin/env python3
"""Checks that every mutation a client saw answered 2xx is in the audit log
with an outcome saying production took it.

    audit_outcomes.py LOG_JSON CALLS

LOG_JSON is `gate audit log --format json`; CALLS has one "NAME STATUS"
line per ConfigMap create a client made. Prints one line per 2xx create
whose decision or committed outcome is missing; exits 1 if there is one.
"""
import json
import sys

recs = json.load(open(sys.argv[1]))
decisions = {}   # the created object's name -> ids of allowed decisions
for r in recs:
    if r.get("type") == "decision" and r.get("verdict") == "allow":
        for c in r.get("diff") or []:
            if c.get("cause") == "direct" and c.get("op") == "create":
                decisions.setdefault(c.get("name"), []).append(r["id"])
took = {r.get("decision") for r in recs if r.get("type") == "outcome" and r.get("committed") is True}
missing = 0
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) != 2 or not parts[1].startswith("2"):
        continue
    name = parts[0]
    if not any(i in took for i in decisions.get(name, [])):
        missing += 1
        print("  answered %s but no recorded outcome: %s" % (parts[1], name))
sys.exit(1 if missing else 0)
