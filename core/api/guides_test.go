package api

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/events"
)

// The migration guide's event table lists every system event of the catalog
// with its delivery, so a new or moved event fails here until the guide says so.
func TestMigrationGuideListsEverySystemEvent(t *testing.T) {
	guide := readRepoFile(t, "docs/guides/migrating-from-tasker-engine.md")
	i := strings.Index(guide, "| event | delivery |")
	require.GreaterOrEqual(t, i, 0, "the guide has no event table")
	delivery := map[string]string{}
	for _, row := range firstTable(guide[i:]) {
		cells := strings.Split(row, "|")
		if len(cells) < 4 {
			continue
		}
		d := strings.Fields(strings.TrimSpace(cells[2]))
		if len(d) == 0 {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			delivery[m[1]] = d[0]
		}
	}
	cat, err := events.System()
	require.NoError(t, err)
	defs := cat.Definitions()
	require.Greater(t, len(defs), 40)
	for _, def := range defs {
		assert.Equal(t, def.Delivery, delivery[def.Name], "event %s in the migration guide's table", def.Name)
	}
	assert.Len(t, delivery, len(defs), "the guide lists events the catalog does not have")
}
