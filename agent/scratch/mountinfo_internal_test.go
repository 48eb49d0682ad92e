package scratch

import "testing"

func TestInMountinfo(t *testing.T) {
	t.Parallel()
	table := []byte(`22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
612 22 7:3 / /data/kernels/k1/work rw,nosuid,nodev,relatime shared:300 - ext4 /dev/loop3 rw
613 22 7:4 / /data/my\040dir/work rw,nosuid,nodev,relatime shared:301 - ext4 /dev/loop4 rw
`)
	tests := []struct {
		dir  string
		want bool
	}{
		{"/data/kernels/k1/work", true},
		{"/data/kernels/k1", false},
		{"/data/kernels/k1/work/sub", false},
		{"/data/my dir/work", true},
		{"/", true},
	}
	for _, tt := range tests {
		if got := inMountinfo(table, tt.dir); got != tt.want {
			t.Errorf("inMountinfo(%q) = %v, want %v", tt.dir, got, tt.want)
		}
	}
	if got := unescape(`a\040b\134c\0`); got != `a b\c\0` {
		t.Errorf("unescape = %q", got)
	}
}
