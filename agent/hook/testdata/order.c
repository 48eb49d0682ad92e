/* Alternates stdout and stderr lines through stdio and through write(),
 * the way the conformance table's snippets do. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char buf[32];
	int i;

	for (i = 0; i < 50; i++) {
		printf("out%d\n", i);
		fflush(stdout);
		fprintf(stderr, "err%d\n", i);
		snprintf(buf, sizeof buf, "wout%d\n", i);
		if (write(1, buf, strlen(buf)) < 0)
			return 1;
		snprintf(buf, sizeof buf, "werr%d\n", i);
		if (write(2, buf, strlen(buf)) < 0)
			return 1;
	}
	return 0;
}
