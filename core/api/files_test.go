package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/safefile/safefiletest"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// Every path a client reads — config_file, events.definitions_paths,
// templates.paths, register_task_templates' paths — refuses a device, a FIFO, a
// directory where a file is wanted, a link to a device and a file over
// files.max_bytes with a configuration_error naming the path, and never blocks or
// exhausts the process.
func TestClientReadsOnlySmallRegularFiles(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	limit := fmt.Sprintf(`"files": {"max_bytes": %d}`, safefiletest.Limit)
	check := func(t *testing.T, what string, tc safefiletest.Case, err error) {
		t.Helper()
		if !assert.Error(t, err, "%s %s", what, tc.Name) {
			return
		}
		assert.Equal(t, errs.Configuration, errs.KindOf(err), "%s %s: %v", what, tc.Name, err)
		assert.Contains(t, err.Error(), tc.Path, "%s %s", what, tc.Name)
		assert.Contains(t, err.Error(), tc.Want, "%s %s", what, tc.Name)
	}
	for _, tc := range safefiletest.Cases(t) {
		safefiletest.Within(t, 10*time.Second, func() {
			_, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "config_file": %q,
				"env": {"TASKER_FILES_MAX_BYTES": "%d"}}`, url, tc.Path, safefiletest.Limit)))
			check(t, "config_file", tc, err)

			_, err = Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, %s,
				"events": {"definitions_paths": [%q]}}`, url, limit, tc.Path)))
			check(t, "events.definitions_paths", tc, err)

			if tc.Name == "directory" {
				return // templates.paths takes directories (walked; see the next test)
			}
			_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
			_, err = Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true, %s,
				"templates": {"paths": [%q]}}`, url, schema, limit, tc.Path)))
			check(t, "templates.paths", tc, err)
		})
	}

	c := openClient(t, ", "+limit)
	for _, tc := range safefiletest.Cases(t) {
		if tc.Name == "directory" {
			continue
		}
		safefiletest.Within(t, 10*time.Second, func() {
			payload, _ := json.Marshal(map[string]any{"paths": []string{tc.Path}})
			_, err := c.Call(context.Background(), "register_task_templates", payload)
			check(t, "register_task_templates", tc, err)
		})
	}
	cases := safefiletest.Cases(t)
	dir := cases[1].Path[:len(cases[1].Path)-len("/fifo.yml")] // the directory holding them all
	safefiletest.Within(t, 10*time.Second, func() {
		payload, _ := json.Marshal(map[string]any{"paths": []string{dir}})
		_, err := c.Call(context.Background(), "register_task_templates", payload)
		check(t, "register_task_templates (a directory holding them)", cases[1], err)
	})
	body := callErr(t, c, "get_task_template", `{"name": "anything"}`)
	assert.Equal(t, errs.NotFound, body.Type, "nothing was registered")
}
