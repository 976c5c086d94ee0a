"""Checks a JUnit XML report the way JUnit consumers (Jenkins' JUnit plugin,
GitLab, the Ant/Surefire schema) read it: the element and attribute names
they require, numeric counts and times, and counts that match the cases.
Usage: junit_check.py FILE EXPECTED_TESTCASES EXPECTED_FAILURES"""
import sys
import xml.etree.ElementTree as ET

path, want_cases, want_failures = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
root = ET.parse(path).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert suites, "no testsuite"
total_cases = total_failures = 0
for s in suites:
    for a in ("name", "tests", "failures", "errors"):
        assert a in s.attrib, "testsuite without %s" % a
    cases = s.findall("testcase")
    fails = [c for c in cases if c.find("failure") is not None]
    errs = [c for c in cases if c.find("error") is not None]
    assert int(s.get("tests")) == len(cases), (s.get("name"), s.get("tests"), len(cases))
    assert int(s.get("failures")) == len(fails), (s.get("name"), s.get("failures"), len(fails))
    assert int(s.get("errors")) == len(errs), (s.get("name"), s.get("errors"), len(errs))
    for c in cases:
        assert c.get("name") and c.get("classname") is not None, "testcase without name/classname"
        if c.get("time") is not None:
            float(c.get("time"))
        for f in c.findall("failure") + c.findall("error"):
            assert "message" in f.attrib and "type" in f.attrib, "failure without message/type"
    total_cases += len(cases)
    total_failures += len(fails)
assert int(root.get("tests")) == total_cases, (root.get("tests"), total_cases)
assert total_cases == want_cases, (total_cases, want_cases)
assert total_failures == want_failures, (total_failures, want_failures)
