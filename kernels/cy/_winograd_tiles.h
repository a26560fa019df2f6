/* Winograd F(2x2, 3x3) tile transforms of one plane, in C: the inner loops of _winograd.pyx.
 *
 * Included twice by _winograd.pyx, with REAL defined as float then double and WG(name) adding
 * the type's suffix (no include guard, on purpose).
 *
 * Every transform is one loop over all the tiles of a plane, t = ty*TW + tx, reading and
 * writing arrays indexed by t only (restrict, no loop-carried dependence: GCC vectorises it);
 * those without a polyphase input run over the tiles of several planes at once (T their total).
 * That needs the plane in polyphase form: the zero-padded input plane P (2TH+2, 2TW+2) is kept
 * as eight arrays Q[a][b][e] of (TH+1)*TW entries,
 *
 *     Q[a][b][e][i*TW + j] = P[2i + a][2(j + e) + b]        a, b, e in {0, 1},
 *
 * so that entry (r, c) of tile t's 4x4 input window is Q[r&1][c&1][c>>1][t + (r>>1)*TW].
 * Output tiles are kept the same way, as four arrays Y[i][j][t] = y[2ty + i][2tx + j].
 * The rows of a tile tensor's 16 planes are `step` entries apart.
 */

/* Q (8 arrays of qn = (TH+1)*TW, in the order (a, b, e)) from the (h, w) plane x: every entry
 * that lies in x is written; the others (the padding) must be zero already and stay so.
 * Entry j of the four arrays of a row comes from x column 2j + be - pw, be = 2e + b = 0..3;
 * columns j in [lo, hi) have all four in x, the few others are checked one by one. */
static void WG(pack_input)(const REAL *restrict x, ptrdiff_t h, ptrdiff_t w, ptrdiff_t ph,
                           ptrdiff_t pw, ptrdiff_t tw, ptrdiff_t qn, REAL *restrict q)
{
    /* 2j - pw >= 0 from lo on; 2j + 3 - pw <= w - 1 below hi */
    ptrdiff_t lo = (pw + 1) / 2, hi = w + pw - 4 >= 0 ? (w + pw - 4) / 2 + 1 : 0;
    if (hi > tw)
        hi = tw;
    if (hi < lo)
        hi = lo;
    for (ptrdiff_t yy = 0; yy < h; yy++) {
        ptrdiff_t r = yy + ph;
        const REAL *row = x + yy * w - pw; /* row[2j + be] is x column 2j + be - pw */
        REAL *restrict d00 = q + (r & 1) * 4 * qn + (r >> 1) * tw; /* (b, e) = (0, 0) */
        REAL *restrict d01 = d00 + qn, *restrict d10 = d00 + 2 * qn, *restrict d11 = d00 + 3 * qn;
        REAL *dst[4] = {d00, d10, d01, d11}; /* by be = 2e + b */
        for (ptrdiff_t j = lo; j < hi; j++) {
            d00[j] = row[2 * j];
            d10[j] = row[2 * j + 1];
            d01[j] = row[2 * j + 2];
            d11[j] = row[2 * j + 3];
        }
        for (ptrdiff_t j = 0; j < tw; j++) {
            if (j == lo)
                j = hi;
            if (j >= tw)
                break;
            for (int be = 0; be < 4; be++) {
                ptrdiff_t col = 2 * j + be - pw;
                if (col >= 0 && col < w)
                    dst[be][j] = row[2 * j + be];
            }
        }
    }
}

/* v[k*step + t] = (B^T d B)[k / 4][k % 4] of tile t's window d, for the T tiles of a plane.
 * B^T has rows 1 0 -1 0 / 0 1 1 0 / 0 -1 1 0 / 0 1 0 -1. */
static void WG(input_transform)(const REAL *restrict q, ptrdiff_t qn, ptrdiff_t tw,
                                ptrdiff_t T, REAL *restrict v, ptrdiff_t step)
{
    const REAL *restrict r0 = q, *restrict r1 = q + 4 * qn;
    const REAL *restrict r2 = q + tw, *restrict r3 = q + 4 * qn + tw;
#pragma GCC ivdep
    for (ptrdiff_t t = 0; t < T; t++) {
        REAL d[4][4], u[4][4];
        const REAL *rows[4] = {r0, r1, r2, r3};
        for (int r = 0; r < 4; r++) { /* columns c = 0..3 are (b, e) = (0,0) (1,0) (0,1) (1,1) */
            d[r][0] = rows[r][t];
            d[r][1] = rows[r][2 * qn + t];
            d[r][2] = rows[r][qn + t];
            d[r][3] = rows[r][3 * qn + t];
        }
        for (int c = 0; c < 4; c++) {
            u[0][c] = d[0][c] - d[2][c];
            u[1][c] = d[1][c] + d[2][c];
            u[2][c] = d[2][c] - d[1][c];
            u[3][c] = d[1][c] - d[3][c];
        }
        for (int a = 0; a < 4; a++) {
            v[(4 * a) * step + t] = u[a][0] - u[a][2];
            v[(4 * a + 1) * step + t] = u[a][1] + u[a][2];
            v[(4 * a + 2) * step + t] = u[a][2] - u[a][1];
            v[(4 * a + 3) * step + t] = u[a][1] - u[a][3];
        }
    }
}

/* Y[2i + j][t] = (A^T m A)[i][j] + bias of tile t's 4x4 product tile m (entries m[k*step + t]).
 * A^T has rows 1 1 1 0 / 0 1 -1 -1. */
static void WG(output_transform)(const REAL *restrict m, ptrdiff_t step, REAL bias,
                                 ptrdiff_t T, REAL *restrict y)
{
#pragma GCC ivdep
    for (ptrdiff_t t = 0; t < T; t++) {
        REAL r[2][4];
        for (int b = 0; b < 4; b++) {
            REAL e0 = m[b * step + t], e1 = m[(4 + b) * step + t];
            REAL e2 = m[(8 + b) * step + t], e3 = m[(12 + b) * step + t];
            r[0][b] = e0 + e1 + e2;
            r[1][b] = e1 - e2 - e3;
        }
        for (int i = 0; i < 2; i++) {
            y[(2 * i) * T + t] = r[i][0] + r[i][1] + r[i][2] + bias;
            y[(2 * i + 1) * T + t] = r[i][1] - r[i][2] - r[i][3] + bias;
        }
    }
}

/* The (oh, ow) output plane out from Y (4 arrays of T), clipped at its edges. */
static void WG(unpack_output)(const REAL *restrict y, ptrdiff_t T, ptrdiff_t tw, ptrdiff_t oh,
                              ptrdiff_t ow, REAL *restrict out)
{
    for (ptrdiff_t yy = 0; yy < oh; yy++) {
        const REAL *restrict y0 = y + 2 * (yy & 1) * T + (yy >> 1) * tw;
        const REAL *restrict y1 = y0 + T;
        REAL *restrict row = out + yy * ow;
        for (ptrdiff_t j = 0; j < ow / 2; j++) {
            row[2 * j] = y0[j];
            row[2 * j + 1] = y1[j];
        }
        if (ow & 1)
            row[ow - 1] = y0[ow / 2];
    }
}

/* G[2i + j][t] = g[2ty + i][2tx + j] from the (oh, ow) plane g: every entry that lies in g is
 * written; the others must be zero already and stay so. */
static void WG(pack_output_grad)(const REAL *restrict g, ptrdiff_t oh, ptrdiff_t ow,
                                 ptrdiff_t T, ptrdiff_t tw, REAL *restrict gq)
{
    for (ptrdiff_t yy = 0; yy < oh; yy++) {
        REAL *restrict g0 = gq + 2 * (yy & 1) * T + (yy >> 1) * tw;
        REAL *restrict g1 = g0 + T;
        const REAL *restrict row = g + yy * ow;
        for (ptrdiff_t j = 0; j < ow / 2; j++) {
            g0[j] = row[2 * j];
            g1[j] = row[2 * j + 1];
        }
        if (ow & 1)
            g0[ow / 2] = row[ow - 1];
    }
}

/* dm[k*step + t] = (A g A^T)[k / 4][k % 4] of tile t's 2x2 gradient tile g (entries gq[j*T + t]):
 * the adjoint of output_transform without the bias. */
static void WG(output_grad_transform)(const REAL *restrict gq, ptrdiff_t T,
                                      REAL *restrict dm, ptrdiff_t step)
{
#pragma GCC ivdep
    for (ptrdiff_t t = 0; t < T; t++) {
        REAL g00 = gq[t], g01 = gq[T + t], g10 = gq[2 * T + t], g11 = gq[3 * T + t];
        /* r = A g: rows g0, g0 + g1, g0 - g1, -g1 (g0, g1 the tile's two rows) */
        REAL r[4][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g00 - g10, g01 - g11}, {-g10, -g11}};
        for (int a = 0; a < 4; a++) {
            dm[(4 * a) * step + t] = r[a][0];
            dm[(4 * a + 1) * step + t] = r[a][0] + r[a][1];
            dm[(4 * a + 2) * step + t] = r[a][0] - r[a][1];
            dm[(4 * a + 3) * step + t] = -r[a][1];
        }
    }
}

/* z[(4r + c)*T + t] = (B e B^T)[r][c] of tile t's 4x4 tile e (entries dv[k*step + t]): tile t's
 * contribution to the entry (2ty + r, 2tx + c) of the padded input plane's gradient. */
static void WG(input_grad_transform)(const REAL *restrict dv, ptrdiff_t step, ptrdiff_t T,
                                     REAL *restrict z)
{
#pragma GCC ivdep
    for (ptrdiff_t t = 0; t < T; t++) {
        REAL e[4][4], s[4][4];
        for (int k = 0; k < 16; k++)
            e[k / 4][k % 4] = dv[k * step + t];
        for (int b = 0; b < 4; b++) { /* s = B e: rows e0, e1 - e2 + e3, e1 + e2 - e0, -e3 */
            s[0][b] = e[0][b];
            s[1][b] = e[1][b] - e[2][b] + e[3][b];
            s[2][b] = e[1][b] + e[2][b] - e[0][b];
            s[3][b] = -e[3][b];
        }
        for (int r = 0; r < 4; r++) { /* (s B^T)[r] */
            z[(4 * r) * T + t] = s[r][0];
            z[(4 * r + 1) * T + t] = s[r][1] - s[r][2] + s[r][3];
            z[(4 * r + 2) * T + t] = s[r][1] + s[r][2] - s[r][0];
            z[(4 * r + 3) * T + t] = -s[r][3];
        }
    }
}

/* Tile t's contributions to padded column pair j = tx of its window row r:
 *     H[2r + b][t] = z[4r + b][t] + z[4r + b + 2][t - 1]      (the second term if tx >= 1),
 * the windows at tile columns tx and tx - 1 both covering padded column 2tx + b, and the last
 * pair of every tile row, j = TW, covered by tile TW - 1 alone: E[2r + b][ty] = z[4r + b + 2][t]
 * with t = ty*TW + TW - 1. T may count the tiles of several planes (a multiple of TW). */
static void WG(merge_columns)(const REAL *restrict z, ptrdiff_t T, ptrdiff_t tw,
                              REAL *restrict hq, REAL *restrict eq)
{
    ptrdiff_t rows = T / tw;
    for (int rb = 0; rb < 8; rb++) {
        const REAL *restrict z0 = z + (4 * (rb >> 1) + (rb & 1)) * T, *restrict z2 = z0 + 2 * T;
        REAL *restrict hr = hq + rb * T;
        for (ptrdiff_t t = 1; t < T; t++)
            hr[t] = z0[t] + z2[t - 1];
        for (ptrdiff_t q = 0; q < rows; q++) { /* tx = 0: no window to the left */
            hr[q * tw] = z0[q * tw];
            eq[rb * rows + q] = z2[q * tw + tw - 1];
        }
    }
}

/* The (h, w) input gradient plane dx from one plane's H and E (merge_columns; their rows
 * `stride` and `rows` entries apart): padded row 2i + a gets window row a of tile row i and
 * window row a + 2 of tile row i - 1. `zero` holds TW zeros, `line` 2*TW + 2 entries. */
static void WG(unpack_input_grad)(const REAL *restrict hq, const REAL *restrict eq,
                                  ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t th, ptrdiff_t tw,
                                  ptrdiff_t h, ptrdiff_t w, ptrdiff_t ph, ptrdiff_t pw,
                                  const REAL *restrict zero, REAL *restrict line,
                                  REAL *restrict dx)
{
    for (ptrdiff_t yy = 0; yy < h; yy++) {
        ptrdiff_t pr = yy + ph, a = pr & 1, i = pr >> 1;
        int top = i < th, bottom = i >= 1;
        for (int b = 0; b < 2; b++) {
            const REAL *restrict u = top ? hq + (2 * a + b) * stride + i * tw : zero;
            const REAL *restrict v = bottom ? hq + (2 * (a + 2) + b) * stride + (i - 1) * tw : zero;
            for (ptrdiff_t j = 0; j < tw; j++)
                line[2 * j + b] = u[j] + v[j];
            line[2 * tw + b] = (top ? eq[(2 * a + b) * rows + i] : 0)
                               + (bottom ? eq[(2 * (a + 2) + b) * rows + i - 1] : 0);
        }
        memcpy(dx + yy * w, line + pw, w * sizeof(REAL));
    }
}
