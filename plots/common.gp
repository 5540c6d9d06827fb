# common.gp - shared settings; every figure script loads it and then draws
# once per format:  do for [fmt in "png svg"] { call 'plots/common.gp' ... }
if (!exists("datadir")) datadir = 'figures/data'
if (!exists("outdir")) outdir = 'docs/figures'
set datafile separator ','
set key top right
set grid lc rgb '#dddddd'
set style line 1 lw 2 lc rgb '#1f77b4'
set style line 2 lw 2 lc rgb '#d62728'
set style line 3 lw 2 lc rgb '#2ca02c'
set style line 4 lw 2 lc rgb '#9467bd'
set style line 5 lw 2 lc rgb '#ff7f0e'
set style line 6 lw 2 lc rgb '#8c564b'
set style line 7 lw 2 lc rgb '#7f7f7f'
set style increment user
# out(name, fmt): pick the terminal and the file
out(name, fmt) = outdir.'/'.name.'.'.fmt
term(fmt) = fmt eq 'png' ? 'pngcairo size 960,600 font ",11"' : 'svg size 960,600 font ",11" dynamic'
# One colour per rule in every figure (a rule's options keep its family's colour:
# e-prop's feedback variants and truncated BPTT's windows are told apart by the legend)
rc(r) = r eq 'bptt' ? '#1f77b4' : r eq 'ostl' ? '#7f7f7f' : strstrt(r, 'diagonal') > 0 ? '#8c564b' : \
        r eq 'eprop' ? '#d62728' : r eq 'eprop:feedback=random' ? '#e377c2' : r eq 'eprop:feedback=adaptive' ? '#9467bd' : \
        r[1:5] eq 'tbptt' ? '#2ca02c' : r[1:4] eq 'fptt' ? '#ff7f0e' : r eq 'rtrl' ? '#17becf' : '#000000'
set style fill transparent solid 0.18 noborder
