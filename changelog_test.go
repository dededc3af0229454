package phlo_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phlogo/phlo"
)

// changelogSection is one "## [...]" section of CHANGELOG.md.
type changelogSection struct {
	line          int
	title         string // the heading's text after "## "
	version, date string // date is "" for [Unreleased]
	subsections   []string
}

var (
	releasedHeading   = regexp.MustCompile(`^\[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})$`)
	changelogSubtypes = map[string]bool{"Added": true, "Changed": true, "Deprecated": true, "Removed": true, "Fixed": true, "Security": true}
)

// TestChangelog: CHANGELOG.md is in the Keep a Changelog form its preamble
// promises. The top section is [Unreleased] or the released phlo.Version,
// and the newest released section is phlo.Version; every other section is
// a released version with a real date, newer above older; each released
// one has at least one subsection, and every subsection is of a kind Keep
// a Changelog names.
func TestChangelog(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := parseChangelog(string(data))
	if len(sections) == 0 {
		t.Fatal("CHANGELOG.md has no ## section")
	}
	released := sections
	if sections[0].title == "[Unreleased]" {
		released = sections[1:]
	}
	if len(released) == 0 || released[0].version != phlo.Version {
		t.Errorf("the newest released section must be [%s] (phlo.Version), under [Unreleased] if there is one", phlo.Version)
	}
	var newer *changelogSection
	for i := range sections {
		s := &sections[i]
		checkChangelogSection(t, s, s == &sections[0])
		if s.version == "" {
			continue
		}
		if newer != nil && !versionLess(s.version, newer.version) {
			t.Errorf("CHANGELOG.md:%d: [%s] is below [%s] but not older", s.line, s.version, newer.version)
		}
		if newer != nil && s.date > newer.date {
			t.Errorf("CHANGELOG.md:%d: [%s] is dated %s, after [%s]'s %s", s.line, s.version, s.date, newer.version, newer.date)
		}
		newer = s
	}
}

// checkChangelogSection checks one section's heading and subsections.
func checkChangelogSection(t *testing.T, s *changelogSection, top bool) {
	t.Helper()
	switch {
	case s.title == "[Unreleased]" && !top:
		t.Errorf("CHANGELOG.md:%d: [Unreleased] must be the top section", s.line)
	case s.title != "[Unreleased]" && s.version == "":
		t.Errorf("CHANGELOG.md:%d: %q is neither [Unreleased] nor \"[X.Y.Z] - YYYY-MM-DD\"", s.line, s.title)
	case s.version != "":
		if _, err := time.Parse(time.DateOnly, s.date); err != nil {
			t.Errorf("CHANGELOG.md:%d: [%s] has no real date: %v", s.line, s.version, err)
		}
	}
	if len(s.subsections) == 0 && s.version != "" {
		t.Errorf("CHANGELOG.md:%d: %s lists nothing", s.line, s.title)
	}
	for i, sub := range s.subsections {
		if slices.Contains(s.subsections[:i], sub) {
			t.Errorf("CHANGELOG.md:%d: %s has two %q subsections: add to the first", s.line, s.title, sub)
		}
		if !changelogSubtypes[sub] {
			t.Errorf("CHANGELOG.md:%d: %s has a %q subsection; Keep a Changelog's are Added, Changed, Deprecated, Removed, Fixed and Security", s.line, s.title, sub)
		}
	}
}

// parseChangelog returns the "## " sections of a changelog in order, with
// the "### " subsection titles of each.
func parseChangelog(text string) []changelogSection {
	var sections []changelogSection
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \r")
		if title, ok := strings.CutPrefix(line, "## "); ok {
			s := changelogSection{line: i + 1, title: title}
			if m := releasedHeading.FindStringSubmatch(title); m != nil {
				s.version, s.date = m[1]+"."+m[2]+"."+m[3], m[4]
			}
			sections = append(sections, s)
		} else if sub, ok := strings.CutPrefix(line, "### "); ok && len(sections) > 0 {
			last := &sections[len(sections)-1]
			last.subsections = append(last.subsections, sub)
		}
	}
	return sections
}

// versionLess compares two X.Y.Z versions numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range as {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return false
}
