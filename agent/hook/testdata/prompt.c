/* Asks for a number without a newline after the prompt, as beginners'
 * programs do, then echoes it. */
#include <stdio.h>

int main(void)
{
	int n;

	printf("Enter a number: ");
	if (scanf("%d", &n) != 1)
		return 1;
	printf("got %d\n", n);
	return 0;
}
