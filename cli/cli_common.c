typedef int imd_placeholder_cli;
