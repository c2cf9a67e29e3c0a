package benchkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMedian(t *testing.T) {
	assert.Equal(t, time.Duration(0), Median(nil))
	assert.Equal(t, 2*time.Second, Median([]time.Duration{3 * time.Second, time.Second, 2 * time.Second}))
	assert.Equal(t, 1500*time.Millisecond, Median([]time.Duration{2 * time.Second, time.Second}))
}

func TestPercentileIsNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	assert.Equal(t, 50*time.Second, Percentile(ds, 50))
	assert.Equal(t, 99*time.Second, Percentile(ds, 99))
	assert.Equal(t, 100*time.Second, Percentile(ds, 100))
	assert.Equal(t, time.Second, Percentile(ds, 0.5))
	few := []time.Duration{4 * time.Second, 9 * time.Second, 5 * time.Second}
	assert.Equal(t, 9*time.Second, Percentile(few, 99), "with few samples p99 is the maximum")
	assert.Equal(t, 5*time.Second, Percentile(few, 50))
	assert.Equal(t, time.Duration(0), Percentile(nil, 50))
}
