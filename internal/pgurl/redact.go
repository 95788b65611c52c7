package pgurl

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// Masked replaces a password in Mask and Redact.
const Masked = "***"

// Mask hides the password of a database URL or key=value DSN, for messages, log
// lines and the effective configuration. It works on the text, without parsing
// it: a URL that pgx or net/url refuse (a bad port, a bad % escape, a raw @ or
// space in the password) is masked as well as a good one. It masks the userinfo
// password of a postgres:// or postgresql:// URL, password= in its query, and a
// key/value password (spaces around =, quoted values with \' and \\ escapes).
func Mask(raw string) string {
	masked := Redact(raw)
	if urlStart(raw) == 0 {
		masked = maskURL(raw) // the whole text is one URL, even with a raw space in it
	}
	return Redact(masked, Secrets(raw)...)
}

// Redact masks every password in free text — an error message that may quote a
// URL or a DSN anywhere in it — and every literal occurrence of the given
// secrets (the passwords of the URL the error came from, see Secrets), so a
// password also disappears from wherever a parser echoed it.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= minLiteral {
			s = strings.ReplaceAll(s, sec, Masked)
		}
	}
	var b strings.Builder
	for {
		i := urlStart(s)
		if i < 0 {
			b.WriteString(maskKV(s))
			return b.String()
		}
		b.WriteString(maskKV(s[:i]))
		s = s[i:]
		end := urlEnd(s)
		b.WriteString(maskURL(s[:end]))
		s = s[end:]
	}
}

func maskKV(s string) string {
	return kvPassword.ReplaceAllString(s, "${1}password="+Masked)
}

// RedactError returns an error with err's message redacted (Redact, with the
// passwords of raw, the URL the error is about). The result does not wrap err:
// pgx's parse errors keep the whole connection string (ParseConfigError.ConnString),
// which must not stay reachable through errors.As.
func RedactError(err error, raw string) error {
	if err == nil {
		return nil
	}
	return errors.New(Redact(err.Error(), Secrets(raw)...))
}

// Secrets returns the password text of a URL or DSN as written and in its
// %-decoded and %-encoded forms, for Redact. Malformed text yields what can be
// found.
func Secrets(raw string) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		out = append(out, p)
		d, err := url.PathUnescape(p)
		if err != nil {
			return
		}
		if d != p {
			out = append(out, d)
		}
		if e := url.QueryEscape(d); e != p && e != d {
			out = append(out, e) // how net/url or pgx may print it back
		}
	}
	if urlStart(raw) == 0 {
		userinfo, _, query := splitURL(raw)
		if _, pw, ok := strings.Cut(userinfo, ":"); ok {
			add(pw)
		}
		for _, m := range queryPassword.FindAllStringSubmatch(query, -1) {
			add(m[2])
		}
	}
	for _, m := range kvPasswordValue.FindAllStringSubmatch(raw, -1) {
		v := m[1]
		if strings.HasPrefix(v, "'") {
			v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
			add(v)
			v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v)
		}
		add(v)
	}
	return out
}

// minLiteral is the shortest secret Redact replaces wherever it occurs: a
// shorter one would mangle ordinary words, and is masked where it stands in a
// URL or DSN.
const minLiteral = 3

var (
	scheme = regexp.MustCompile(`(?i)postgres(?:ql)?://`)
	// password= in a URL query, up to the next parameter or fragment.
	queryPassword = regexp.MustCompile(`(?i)((?:^|[?&])password=)([^&#]*)`)
	// password = value in a DSN or free text: a quoted value (escapes \' and \\,
	// possibly unterminated) or up to the next space. As in pgx, a value may
	// follow spaces after the =.
	kvPassword      = regexp.MustCompile(`(?i)(^|[^a-z0-9_])password\s*=\s*(?:'(?:[^'\\]|\\.)*(?:'|\\?$)|[^\s'"` + "`" + `]*)`)
	kvPasswordValue = regexp.MustCompile(`(?i)(?:^|[^a-z0-9_])password\s*=\s*('(?:[^'\\]|\\.)*(?:'|\\?$)|[^\s'"` + "`" + `]*)`)
)

// urlStart is the index of the first postgres:// or postgresql:// in s, or -1.
func urlStart(s string) int {
	if loc := scheme.FindStringIndex(s); loc != nil {
		return loc[0]
	}
	return -1
}

// urlEnd is where a URL quoted in free text ends: at a space, a quote or a
// backquote (a URL cannot hold them unescaped; pgx and net/url quote the URL they
// report).
func urlEnd(s string) int {
	if i := strings.IndexAny(s, " \t\r\n\"'`"); i >= 0 {
		return i
	}
	return len(s)
}

// splitURL cuts a URL (scheme://userinfo@hosts/path?query#fragment) into its
// userinfo and the rest before the query, and the query, from the text alone.
// The userinfo ends at the last @ before the query, so a password with a raw @ or
// / is still all userinfo.
func splitURL(s string) (userinfo, hostpath, query string) {
	loc := scheme.FindStringIndex(s)
	rest := s[loc[1]:]
	q := strings.IndexAny(rest, "?#")
	if q < 0 {
		q = len(rest)
	}
	before := rest[:q]
	query = rest[q:]
	if at := strings.LastIndex(before, "@"); at >= 0 {
		return before[:at], before[at:], query
	}
	return "", before, query
}

// maskURL masks the userinfo password and a query password of one URL.
func maskURL(s string) string {
	loc := scheme.FindStringIndex(s)
	userinfo, hostpath, query := splitURL(s)
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		userinfo = user + ":" + Masked
	}
	query = queryPassword.ReplaceAllString(query, "${1}"+Masked)
	return s[:loc[1]] + userinfo + hostpath + query
}
